//! The `shelfflow` binary under test, scratch directories for its runs, and what they wrote.
#![allow(dead_code)] // each test file uses part of it

use std::path::{Path, PathBuf};
use std::process::Command;

/// The binary Cargo built for the tests, run from the workspace root (where `pipelines/`,
/// `config/` and `data/` are).
pub fn shelfflow() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shelfflow"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

/// An empty directory `target/tmp/<group>/<name>` (emptied if it held an earlier run).
pub fn scratch(group: &str, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(group).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Every file under `dir` (recursively), by path relative to it.
pub fn files_under(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("output dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.strip_prefix(dir).expect("inside").display().to_string();
                files.insert(name, std::fs::read(&path).expect("read output"));
            }
        }
    }
    files
}
