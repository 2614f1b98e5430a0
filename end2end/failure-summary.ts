import type { FullResult, Reporter, TestCase, TestResult } from "@playwright/test/reporter";

// The last lines of a failed run say why: each failed test's first error lines and where,
// then the server's last warnings and errors. (The server's log and the list reporter's
// report are long; a run's tail is often all there is to read.)
const KEPT = 15;
const ansi = /\u001b\[[0-9;]*m/g;

export default class FailureSummary implements Reporter {
  private failures: string[] = [];
  private serverProblems: string[] = [];

  printsToStdio(): boolean {
    return false;
  }

  // The web server's output comes without a test.
  onStdOut(chunk: string | Buffer, test?: TestCase): void {
    if (!test) this.collect(chunk.toString());
  }

  onStdErr(chunk: string | Buffer, test?: TestCase): void {
    if (!test) this.collect(chunk.toString());
  }

  private collect(text: string): void {
    for (const line of text.replace(ansi, "").split("\n")) {
      if (/\s(WARN|ERROR)\s/.test(line)) this.serverProblems.push(line.trim().slice(0, 300));
    }
    this.serverProblems = this.serverProblems.slice(-KEPT);
  }

  onTestEnd(test: TestCase, result: TestResult): void {
    if (result.status !== "failed" && result.status !== "timedOut") return;
    const error = result.errors[0];
    const lines = (error?.message ?? result.status).replace(ansi, "").split("\n").map((l) => l.trim()).filter(Boolean);
    const where = error?.location ? ` (${error.location.file.split("/").pop()}:${error.location.line})` : "";
    const project = test.parent.project()?.name ?? "";
    this.failures.push(`[${project}] ${test.title}${where}\n    ${lines.slice(0, 5).join("\n    ")}`);
  }

  onEnd(_result: FullResult): void {
    if (this.failures.length === 0) return;
    console.log(`\nWhy it failed:\n  ${this.failures.join("\n  ")}`);
    if (this.serverProblems.length > 0) {
      console.log(`Server warnings and errors (the last ${KEPT}):\n  ${this.serverProblems.join("\n  ")}`);
    } else {
      console.log("The server logged no warning or error.");
    }
  }
}
