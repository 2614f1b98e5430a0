//! A PostgreSQL cluster of the suite's own (`initdb`, `pg_ctl`) on a free port, so a
//! scenario can stop and start it; removed when dropped. As root (CI), its commands run as
//! the `postgres` user, since PostgreSQL refuses to run as root.

use crate::common::processes::free_port;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Cluster {
    dir: tempfile::TempDir,
    port: u16,
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The directory of `initdb` and `pg_ctl`: where `pg_config` says, Debian's, or the PATH.
fn bindir() -> PathBuf {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return dir;
        }
    }
    // Debian keeps them out of the PATH, by major version.
    if let Ok(versions) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut found: Vec<PathBuf> = versions
            .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("initdb").exists())
            .collect();
        found.sort();
        if let Some(newest) = found.pop() {
            return newest;
        }
    }
    PathBuf::new() // the PATH
}

fn run(program: &Path, args: &[&str]) {
    let mut command = if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    };
    let out = command
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("{} could not run: {err}", program.display()));
    assert!(
        out.status.success(),
        "{} {args:?} failed: {}{}",
        program.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether PostgreSQL's server programs are here; says why a scenario skips otherwise.
pub fn available() -> bool {
    let here = Command::new(bindir().join("initdb"))
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if !here {
        eprintln!("SKIPPED: PostgreSQL's initdb is not installed (Debian: postgresql)");
    }
    here
}

impl Cluster {
    /// A started cluster, its URL and a migrated connection; `None` (said) where
    /// PostgreSQL's server programs are not installed.
    pub async fn with_database() -> Option<(Self, String, backend::DatabaseConnection)> {
        if !available() {
            return None;
        }
        let cluster = Self::start();
        let url = cluster.url();
        let db = crate::chaos::support::migrated(&url).await;
        Some((cluster, url, db))
    }

    /// A fresh cluster, started, with trust authentication on 127.0.0.1.
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("stockroom-chaos-pg")
            .tempdir()
            .expect("a directory for the cluster");
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success(), "chown the cluster's directory");
        }
        let cluster = Self {
            port: free_port(),
            dir,
        };
        run(
            &bindir().join("initdb"),
            &[
                "-D",
                cluster.data().to_str().expect("a UTF-8 path"),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
            ],
        );
        cluster.up();
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server and waits until it accepts connections.
    pub fn up(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let data = self.data();
        let log = self.dir.path().join("postgres.log");
        run(
            &bindir().join("pg_ctl"),
            &[
                "-D",
                data.to_str().expect("a UTF-8 path"),
                "-l",
                log.to_str().expect("a UTF-8 path"),
                "-o",
                &options,
                "-w",
                "start",
            ],
        );
    }

    /// Stops the server the way an operator's restart does (`-m fast`: every connection is
    /// cut, open transactions are rolled back).
    pub fn down(&self) {
        run(
            &bindir().join("pg_ctl"),
            &[
                "-D",
                self.data().to_str().expect("a UTF-8 path"),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut command = if is_root() {
            let mut command = Command::new("runuser");
            command
                .args(["-u", "postgres", "--"])
                .arg(bindir().join("pg_ctl"));
            command
        } else {
            Command::new(bindir().join("pg_ctl"))
        };
        let _ = command
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}
