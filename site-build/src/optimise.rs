//! wasm-opt over every module, each result cached by the module's content: an unchanged
//! module is copied from the cache instead of optimised again.

use anyhow::{bail, Context};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

const ARGS: [&str; 3] = [
    "-Oz",
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
];
/// Binaryen releases before this one produce modules that do not hydrate.
const OLDEST_VERSION: u32 = 116;

pub struct WasmOpt {
    program: String,
    pub version: String,
}

impl WasmOpt {
    pub fn find(program: &str) -> anyhow::Result<Self> {
        let output = Command::new(program)
            .arg("--version")
            .output()
            .with_context(|| {
                format!("`{program}` was not found: install npm's binaryen (`make tools`)")
            })?;
        let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
        match release_number(&version) {
            Some(number) if output.status.success() && number >= OLDEST_VERSION => Ok(Self {
                program: program.to_string(),
                version,
            }),
            _ => bail!(
                "`{program}` is {version:?}; binaryen {OLDEST_VERSION} or later is needed \
                 (older releases break hydration): install npm's binaryen (`make tools`)"
            ),
        }
    }

    /// Optimises every module in place; answers how many came from the cache.
    pub fn optimise_all(&self, modules: &[PathBuf], cache: &Path) -> anyhow::Result<usize> {
        std::fs::create_dir_all(cache)
            .with_context(|| format!("Failed to create {}", cache.display()))?;
        let queue = Mutex::new(modules.iter());
        let reused = Mutex::new(0usize);
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        std::thread::scope(|scope| -> anyhow::Result<()> {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| -> anyhow::Result<()> {
                        loop {
                            let next = match queue.lock() {
                                Ok(mut queue) => queue.next(),
                                Err(_) => bail!("a wasm-opt worker panicked"),
                            };
                            let Some(module) = next else { return Ok(()) };
                            if self.optimise(module, cache)? {
                                match reused.lock() {
                                    Ok(mut reused) => *reused += 1,
                                    Err(_) => bail!("a wasm-opt worker panicked"),
                                }
                            }
                        }
                    })
                })
                .collect();
            for handle in handles {
                match handle.join() {
                    Ok(result) => result?,
                    Err(_) => bail!("a wasm-opt worker panicked"),
                }
            }
            Ok(())
        })?;
        let reused = reused
            .into_inner()
            .map_err(|_| anyhow::anyhow!("a wasm-opt worker panicked"))?;
        Ok(reused)
    }

    /// Answers true when the result came from the cache.
    fn optimise(&self, module: &Path, cache: &Path) -> anyhow::Result<bool> {
        let input = std::fs::read(module)
            .with_context(|| format!("Failed to read {}", module.display()))?;
        let cached = cache.join(format!("{}.wasm", self.cache_key(&input)));
        if cached.is_file() {
            std::fs::copy(&cached, module)
                .with_context(|| format!("Failed to copy {}", cached.display()))?;
            return Ok(true);
        }
        let output = Command::new(&self.program)
            .args(ARGS)
            .arg(module)
            .arg("-o")
            .arg(module)
            .output()
            .with_context(|| format!("Failed to run {}", self.program))?;
        if !output.status.success() {
            bail!(
                "wasm-opt failed on {}: {}",
                module.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        // Written beside, then renamed: a cache entry is whole or absent.
        // Two workers may meet the same module (equal chunks): each writes its own file.
        let partial = cached.with_extension(format!(
            "{}.{:?}.partial",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::copy(module, &partial)
            .and_then(|_| std::fs::rename(&partial, &cached))
            .with_context(|| format!("Failed to cache {}", cached.display()))?;
        Ok(false)
    }

    fn cache_key(&self, input: &[u8]) -> String {
        let mut hash = Sha256::new();
        hash.update(self.version.as_bytes());
        hash.update(ARGS.join(" ").as_bytes());
        hash.update(input);
        hex::encode(hash.finalize())
    }
}

/// `wasm-opt version 132 (version_132)` → 132.
fn release_number(version: &str) -> Option<u32> {
    version
        .split_whitespace()
        .find_map(|word| word.parse::<u32>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_numbers_are_read_from_what_wasm_opt_prints() {
        assert_eq!(
            release_number("wasm-opt version 132 (version_132)"),
            Some(132)
        );
        assert_eq!(release_number("wasm-opt version 108"), Some(108));
        assert_eq!(release_number("something else"), None);
    }
}
