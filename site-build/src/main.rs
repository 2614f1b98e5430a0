//! `site-build`: the browser's half of the release site, in `target/site`.
//!
//! What `cargo leptos build --release --split` does for the front end, as a small step of our
//! own, so that `make run` needs no build tool compiled first and a repeat build redoes
//! nothing that did not change:
//!
//! 1. `cargo` builds the `frontend` cdylib for `wasm32-unknown-unknown` (`wasm-release`
//!    profile), linked with relocations so it can be split (`cargo_build`);
//! 2. the wasm is split at Leptos' lazy routes into modules fetched on demand, with the
//!    manifest Leptos' loader reads (`bind`);
//! 3. `wasm-bindgen` (the library, pinned with the `wasm-bindgen` crate) writes the JS glue;
//! 4. every module loses its custom sections (`strip`), or, with `--finish wasm-opt`,
//!    goes through `wasm-opt -Oz`, each cached by its content (`optimise`);
//! 5. the stylesheet and `public/` are copied beside them (`assets`).
//!
//! Steps 2–4 are skipped when the wasm `cargo` produced is the one the site was made from
//! (`stamp`), and wasm-opt reuses every module it has optimised before.

mod assets;
mod bind;
mod cargo_build;
mod optimise;
mod stamp;
mod strip;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use std::path::PathBuf;
use std::time::Instant;

/// Where things are; the defaults are the workspace's `[[workspace.metadata.leptos]]`
/// entries (a test keeps them equal), so `cargo leptos watch` and this build agree.
#[derive(Parser, Debug)]
#[command(
    name = "site-build",
    about = "Build target/site: split, bound and optimised wasm, CSS and public/"
)]
struct Cli {
    /// The cdylib package with the hydrate entry point.
    #[arg(long, default_value = "frontend")]
    lib_package: String,
    /// The name of the JS, wasm and CSS files under `pkg/` (LEPTOS_OUTPUT_NAME).
    #[arg(long, default_value = "stockroom")]
    output_name: String,
    /// The cargo profile of the wasm build.
    #[arg(long, default_value = "wasm-release")]
    profile: String,
    #[arg(long, default_value = "target/site")]
    site_root: PathBuf,
    #[arg(long, default_value = "pkg")]
    pkg_dir: String,
    #[arg(long, default_value = "style/main.css")]
    style_file: PathBuf,
    #[arg(long, default_value = "public")]
    assets_dir: PathBuf,
    /// More arguments for the wasm's `cargo rustc` (`-Zbuild-std=…` for `make release-small`).
    #[arg(long = "cargo-arg")]
    cargo_args: Vec<String>,
    /// The wasm build's own target folder.
    #[arg(long, default_value = "target/front")]
    front_target_dir: PathBuf,
    /// Kept between builds: optimised modules by content, and the staging folder.
    #[arg(long, default_value = "target/site-cache")]
    cache_dir: PathBuf,
    /// How each module is finished.
    #[arg(long, value_enum, default_value = "strip")]
    finish: Finish,
    /// With `--finish wasm-opt`: the executable (npm's binaryen; Debian's is too old and
    /// breaks hydration).
    #[arg(long, default_value = "wasm-opt")]
    wasm_opt: String,
}

/// The last step of every module.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Finish {
    /// Custom sections dropped, in process: as small gzipped, in milliseconds.
    Strip,
    /// `wasm-opt -Oz` (smaller raw, minutes on a first build).
    WasmOpt,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let started = Instant::now();

    let step = Instant::now();
    let wasm_path = cargo_build::build(
        &cli.lib_package,
        &cli.profile,
        &cli.output_name,
        &cli.front_target_dir,
        &cli.cargo_args,
    )?;
    println!(
        "site-build: cargo (wasm) in {:.1} s",
        step.elapsed().as_secs_f64()
    );

    let wasm = std::fs::read(&wasm_path)
        .with_context(|| format!("Failed to read {}", wasm_path.display()))?;
    let wasm_opt = match cli.finish {
        Finish::Strip => None,
        Finish::WasmOpt => Some(optimise::WasmOpt::find(&cli.wasm_opt)?),
    };
    let finish = match &wasm_opt {
        None => "strip".to_string(),
        Some(wasm_opt) => wasm_opt.version.clone(),
    };
    let key = stamp::key(&wasm, &cli.output_name, &finish, &stamp::this_build()?);
    let pkg = cli.site_root.join(&cli.pkg_dir);

    if stamp::matches(&pkg, &key) {
        println!("site-build: the wasm is unchanged, its modules are reused");
    } else {
        let step = Instant::now();
        let staging = cli.cache_dir.join("staging").join(&cli.pkg_dir);
        assets::empty_dir(&staging)?;
        let modules = bind::split_and_bind(&wasm, &staging, &cli.output_name)?;
        println!(
            "site-build: split into {} modules and bound in {:.1} s",
            modules.len(),
            step.elapsed().as_secs_f64()
        );

        let step = Instant::now();
        match &wasm_opt {
            None => {
                strip::strip_all(&modules)?;
                println!(
                    "site-build: custom sections stripped in {:.1} s",
                    step.elapsed().as_secs_f64()
                );
            }
            Some(wasm_opt) => {
                let reused = wasm_opt.optimise_all(&modules, &cli.cache_dir.join("wasm-opt"))?;
                println!(
                    "site-build: wasm-opt in {:.1} s ({} of {} modules from the cache)",
                    step.elapsed().as_secs_f64(),
                    reused,
                    modules.len()
                );
            }
        }
        let css = staging.join(format!("{}.css", cli.output_name));
        assets::copy_if_changed(&cli.style_file, &css)?;
        stamp::write(&staging, &key)?;
        assets::replace_dir(&staging, &pkg)?;
    }

    // The stylesheet changes without the wasm (designers' edits): copied when it differs.
    let css = pkg.join(format!("{}.css", cli.output_name));
    assets::copy_if_changed(&cli.style_file, &css)?;
    let copied = assets::copy_tree(&cli.assets_dir, &cli.site_root)?;
    println!(
        "site-build: {} ready in {:.1} s ({} public files updated)",
        cli.site_root.display(),
        started.elapsed().as_secs_f64(),
        copied
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults are what the workspace's Leptos metadata says, so a designer's
    /// `cargo leptos watch` and `make run` build the same site.
    #[test]
    fn defaults_follow_the_workspace_leptos_metadata() {
        let manifest =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
                .expect("the workspace manifest");
        let doc: toml::Table = toml::from_str(&manifest).expect("valid TOML");
        let leptos = &doc["workspace"]["metadata"]["leptos"][0];
        let cli = Cli::parse_from(["site-build"]);
        assert_eq!(
            leptos["lib-package"].as_str(),
            Some(cli.lib_package.as_str())
        );
        assert_eq!(leptos["name"].as_str(), Some(cli.output_name.as_str()));
        assert_eq!(
            leptos["lib-profile-release"].as_str(),
            Some(cli.profile.as_str())
        );
        assert_eq!(leptos["site-root"].as_str(), cli.site_root.to_str());
        assert_eq!(leptos["site-pkg-dir"].as_str(), Some(cli.pkg_dir.as_str()));
        assert_eq!(leptos["style-file"].as_str(), cli.style_file.to_str());
        assert_eq!(leptos["assets-dir"].as_str(), cli.assets_dir.to_str());
        // Every other key is one site-build has no use for, knowingly: a new one (hashed
        // file names, lib features…) fails here until site-build follows it or says why not.
        let elsewhere = [
            "name",
            "lib-package",
            "lib-profile-release",
            "site-root",
            "site-pkg-dir",
            "style-file",
            "assets-dir",
            // The server's build and cargo-leptos' own serving and tests.
            "bin-package",
            "bin-target",
            "bin-exe-name",
            "bin-default-features",
            "site-addr",
            "reload-port",
            "end2end-cmd",
            "end2end-dir",
            // cargo-leptos' CSS pass (prefixes for these browsers); site-build serves the
            // stylesheet as written, which targets current browsers only.
            "browserquery",
            // site-build always builds without default features and with the
            // workspace's own flags.
            "lib-default-features",
            "disable-erase-components",
        ];
        let keys: Vec<&String> = leptos.as_table().expect("a table").keys().collect();
        for key in keys {
            assert!(
                elsewhere.contains(&key.as_str()),
                "site-build does not follow `{key}`"
            );
        }
    }
}
