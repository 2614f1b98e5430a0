//! Splitting at Leptos' lazy routes, then wasm-bindgen's JS glue for the main module.

use anyhow::{anyhow, Context};
use std::path::{Path, PathBuf};

/// The loader module's name, as Leptos' `HydrationScripts` asks for it (unhashed files).
const SPLIT_LOADER: &str = "./__wasm_split.______________________.js";
/// The map from each lazy module to the modules it needs, read by the server to preload.
const SPLIT_MANIFEST: &str = "__wasm_split_manifest.json";

/// Writes into `pkg`: `<name>.js`, `<name>.wasm`, the split modules, the loader and the
/// manifest. Answers every wasm file written (the main module first), for wasm-opt.
pub fn split_and_bind(wasm: &[u8], pkg: &Path, output_name: &str) -> anyhow::Result<Vec<PathBuf>> {
    let main_split = pkg.join(format!("{output_name}_split.wasm"));
    let main_js = format!("./{output_name}.js");

    let mut options = wasm_split_cli_support::Options::new(wasm);
    options.output_dir = pkg;
    options.main_out_path = &main_split;
    options.main_module = &main_js;
    options.link_name = SPLIT_LOADER;
    let split = wasm_split_cli_support::transform(options)
        .map_err(|err| anyhow!("Failed to split the wasm at its lazy routes: {err:#}"))?;
    let manifest = serde_json::to_string_pretty(&split.prefetch_map)
        .context("Failed to write the split manifest")?;
    std::fs::write(pkg.join(SPLIT_MANIFEST), manifest)
        .context("Failed to write the split manifest")?;

    // The same settings cargo-leptos gives the CLI for a split build.
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&main_split)
        .out_name(output_name)
        .web(true)
        .context("wasm-bindgen refused the web target")?
        .keep_lld_exports(true)
        .demangle(false)
        .omit_default_module_path(false)
        .generate(pkg)
        .context("wasm-bindgen failed on the main module")?;
    std::fs::remove_file(&main_split).context("Failed to remove the unbound main module")?;

    // Leptos' loader asks for `<name>.wasm`.
    let bound = pkg.join(format!("{output_name}_bg.wasm"));
    let main = pkg.join(format!("{output_name}.wasm"));
    std::fs::rename(&bound, &main)
        .with_context(|| format!("Failed to rename {}", bound.display()))?;

    let mut modules = vec![main];
    modules.extend(split.split_modules);
    Ok(modules)
}
