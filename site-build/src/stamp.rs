//! What a built `pkg/` was made from: a key over the input wasm and everything else that
//! shapes the output. Equal keys mean the modules on disk are the ones a build would make.

use anyhow::Context;
use sha2::{Digest, Sha256};
use std::path::Path;

const STAMP_FILE: &str = ".site-build-key";

/// Bump when the way modules are made changes (options of the splitter, bindgen or wasm-opt).
const RECIPE: &str = "split:wasm_split_cli_support=0.2.3;bindgen=0.2.130:web,keep-lld-exports,no-demangle;opt:-Oz,bulk-memory,nontrapping-float-to-int;v1";

pub fn key(wasm: &[u8], output_name: &str, wasm_opt_version: &str) -> String {
    let mut hash = Sha256::new();
    for part in [
        RECIPE.as_bytes(),
        output_name.as_bytes(),
        wasm_opt_version.as_bytes(),
    ] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part);
    }
    hash.update(wasm);
    hex::encode(hash.finalize())
}

/// True when `pkg` holds a complete build made with `key`: the stamp is written last, into
/// the staging folder, before the folder replaces `pkg` in one rename.
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
    fn the_key_changes_with_the_wasm_the_name_and_the_optimiser() {
        let base = key(b"\0asm-one", "stockroom", "wasm-opt version 132");
        assert_eq!(base, key(b"\0asm-one", "stockroom", "wasm-opt version 132"));
        assert_ne!(base, key(b"\0asm-two", "stockroom", "wasm-opt version 132"));
        assert_ne!(base, key(b"\0asm-one", "other", "wasm-opt version 132"));
        assert_ne!(base, key(b"\0asm-one", "stockroom", "wasm-opt version 133"));
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
