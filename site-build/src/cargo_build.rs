//! The wasm build: `cargo rustc` on the cdylib, so the linker flag that splitting needs
//! reaches the one crate that links, and every dependency keeps the workspace's flags
//! (`.cargo/config.toml`) and its cached artifacts.

use anyhow::{bail, Context};
use std::path::PathBuf;
use std::process::Command;

/// Builds the cdylib and answers the path of its `.wasm`.
pub fn build(package: &str, profile: &str, output_name: &str) -> anyhow::Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = Command::new(&cargo)
        .args([
            "rustc",
            "--package",
            package,
            "--lib",
            "--target",
            "wasm32-unknown-unknown",
            "--profile",
            profile,
            "--no-default-features",
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
    let target_dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".to_string());
    let file = format!("{}.wasm", package.replace('-', "_"));
    Ok(PathBuf::from(target_dir)
        .join("wasm32-unknown-unknown")
        .join(profile)
        .join(file))
}
