//! The wasm build: `cargo rustc` on the cdylib, so the linker flag that splitting needs
//! reaches the one crate that links, and every dependency keeps the workspace's flags
//! (`.cargo/config.toml`) and its cached artifacts.

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds the cdylib in `target_dir` and answers the path of its `.wasm`.
///
/// The wasm has a target folder of its own (as cargo-leptos gives it, `target/front`):
/// no artifact of it is shared with the server's build anyway, and apart, the two builds
/// run side by side instead of waiting for each other's lock.
pub fn build(
    package: &str,
    profile: &str,
    output_name: &str,
    target_dir: &Path,
    extra_args: &[String],
) -> anyhow::Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = Command::new(&cargo)
        .arg("rustc")
        .arg("--target-dir")
        .arg(target_dir)
        .args([
            "--package",
            package,
            "--lib",
            "--target",
            "wasm32-unknown-unknown",
            "--profile",
            profile,
            "--no-default-features",
        ])
        .args(extra_args)
        .args([
            "--",
            // Keeps the relocations the splitter reads to move functions between modules.
            "-Clink-args=--emit-relocs",
        ])
        // Leptos bakes the file names into the code it generates.
        .env("LEPTOS_OUTPUT_NAME", output_name)
        .status()
        .with_context(|| format!("Failed to run {cargo}"))?;
    if !status.success() {
        bail!("The wasm build of {package} failed ({status})");
    }
    let file = format!("{}.wasm", package.replace('-', "_"));
    Ok(target_dir
        .join("wasm32-unknown-unknown")
        .join(profile)
        .join(file))
}
