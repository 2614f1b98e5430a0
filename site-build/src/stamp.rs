//! What a built `pkg/` was made from: a key over the input wasm and everything else that
//! shapes the output. Equal keys mean the modules on disk are the ones a build would make.

use anyhow::Context;
use sha2::{Digest, Sha256};
use std::path::Path;

const STAMP_FILE: &str = ".site-build-key";

/// The libraries' settings; site-build's own code is in the key through [`this_build`].
const RECIPE: &str =
    "split:wasm_split_cli_support=0.2.3;bindgen=0.2.130:web,keep-lld-exports,no-demangle";

/// `finish`: how modules are finished (`strip`, or wasm-opt's version); `builder`: what
/// this site-build is ([`this_build`]), so a change to its own code makes the site anew.
pub fn key(wasm: &[u8], output_name: &str, finish: &str, builder: &str) -> String {
    let mut hash = Sha256::new();
    for part in [
        RECIPE.as_bytes(),
        output_name.as_bytes(),
        finish.as_bytes(),
        builder.as_bytes(),
    ] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part);
    }
    hash.update(wasm);
    hex::encode(hash.finalize())
}

/// The hash of this site-build's own executable.
pub fn this_build() -> anyhow::Result<String> {
    let exe = std::env::current_exe().context("Failed to find site-build's own executable")?;
    let bytes = std::fs::read(&exe).with_context(|| format!("Failed to read {}", exe.display()))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// True when `pkg` holds a complete build made with `key`: the stamp is written last, into
/// the staging folder, before the folder takes the place of `pkg`.
pub fn matches(pkg: &Path, key: &str) -> bool {
    std::fs::read_to_string(pkg.join(STAMP_FILE)).is_ok_and(|stored| stored.trim() == key)
}

pub fn write(pkg: &Path, key: &str) -> anyhow::Result<()> {
    let path = pkg.join(STAMP_FILE);
    std::fs::write(&path, key).with_context(|| format!("Failed to write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_changes_with_the_wasm_the_name_the_finish_and_the_builder() {
        let base = key(b"\0asm-one", "stockroom", "strip", "b1");
        assert_eq!(base, key(b"\0asm-one", "stockroom", "strip", "b1"));
        assert_ne!(base, key(b"\0asm-two", "stockroom", "strip", "b1"));
        assert_ne!(base, key(b"\0asm-one", "other", "strip", "b1"));
        assert_ne!(
            base,
            key(b"\0asm-one", "stockroom", "wasm-opt version 132", "b1")
        );
        assert_ne!(base, key(b"\0asm-one", "stockroom", "strip", "b2"));
    }

    #[test]
    fn this_build_is_a_hash_of_the_running_executable() {
        let first = this_build().expect("the test binary is readable");
        assert_eq!(first.len(), 64);
        assert_eq!(first, this_build().expect("again"));
    }

    #[test]
    fn a_pkg_matches_only_the_key_it_was_stamped_with() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        assert!(!matches(dir.path(), "abc"), "no stamp, no match");
        write(dir.path(), "abc").expect("stamp written");
        assert!(matches(dir.path(), "abc"));
        assert!(!matches(dir.path(), "abd"));
    }
}
