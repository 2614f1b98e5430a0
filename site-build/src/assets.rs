//! Files copied as they are: the stylesheet and `public/`; and the folder swaps.

use anyhow::Context;
use std::path::Path;

/// Makes `dir` exist and be empty.
pub fn empty_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .with_context(|| format!("Failed to empty {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("Failed to create {}", dir.display()))
}

/// Puts the finished `staging` folder in the place of `dest`: the old folder is renamed
/// aside and the new one renamed in, so `dest` is whole at every moment but the one
/// between the two renames; the old one is deleted after.
pub fn replace_dir(staging: &Path, dest: &Path) -> anyhow::Result<()> {
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("Failed to create {}", parent.display()))?;
    }
    let old = dest.with_extension("old");
    if old.exists() {
        std::fs::remove_dir_all(&old)
            .with_context(|| format!("Failed to remove {}", old.display()))?;
    }
    if dest.exists() {
        std::fs::rename(dest, &old)
            .with_context(|| format!("Failed to move {} aside", dest.display()))?;
    }
    std::fs::rename(staging, dest)
        .with_context(|| format!("Failed to move {} to {}", staging.display(), dest.display()))?;
    if old.exists() {
        std::fs::remove_dir_all(&old)
            .with_context(|| format!("Failed to remove {}", old.display()))?;
    }
    Ok(())
}

/// Copies `from` to `to` unless `to` already holds the same bytes; answers whether it wrote.
pub fn copy_if_changed(from: &Path, to: &Path) -> anyhow::Result<bool> {
    let bytes =
        std::fs::read(from).with_context(|| format!("Failed to read {}", from.display()))?;
    if std::fs::read(to).is_ok_and(|current| current == bytes) {
        return Ok(false);
    }
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("Failed to create {}", parent.display()))?;
    }
    std::fs::write(to, bytes).with_context(|| format!("Failed to write {}", to.display()))?;
    Ok(true)
}

/// Copies every file under `from` to the same place under `to`; answers how many changed.
pub fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<usize> {
    let mut changed = 0;
    let entries =
        std::fs::read_dir(from).with_context(|| format!("Failed to read {}", from.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("Failed to read {}", from.display()))?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            changed += copy_tree(&entry.path(), &target)?;
        } else if copy_if_changed(&entry.path(), &target)? {
            changed += 1;
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_is_copied_once_and_then_only_what_changed() {
        let from = tempfile::tempdir().expect("a temporary folder");
        let to = tempfile::tempdir().expect("a temporary folder");
        std::fs::create_dir(from.path().join("icons")).expect("a folder");
        std::fs::write(from.path().join("favicon.ico"), b"ico").expect("a file");
        std::fs::write(from.path().join("icons/a.svg"), b"<svg/>").expect("a file");

        assert_eq!(copy_tree(from.path(), to.path()).expect("copied"), 2);
        assert_eq!(copy_tree(from.path(), to.path()).expect("copied"), 0);
        std::fs::write(from.path().join("icons/a.svg"), b"<svg></svg>").expect("a file");
        assert_eq!(copy_tree(from.path(), to.path()).expect("copied"), 1);
        assert_eq!(
            std::fs::read(to.path().join("icons/a.svg")).expect("read"),
            b"<svg></svg>"
        );
    }

    #[test]
    fn a_staged_folder_replaces_the_old_one_whole() {
        let root = tempfile::tempdir().expect("a temporary folder");
        let staging = root.path().join("staging/pkg");
        let dest = root.path().join("site/pkg");
        std::fs::create_dir_all(&dest).expect("a folder");
        std::fs::write(dest.join("old.wasm"), b"old").expect("a file");
        empty_dir(&staging).expect("staging");
        std::fs::write(staging.join("new.wasm"), b"new").expect("a file");

        replace_dir(&staging, &dest).expect("replaced");
        assert!(dest.join("new.wasm").is_file());
        assert!(
            !dest.join("old.wasm").exists(),
            "nothing of the old build is left"
        );
        assert!(!staging.exists());
        assert!(
            !root.path().join("site/pkg.old").exists(),
            "the old build is deleted"
        );
    }
}
