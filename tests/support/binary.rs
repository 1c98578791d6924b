//! The `shelfflow` binary under test, and scratch directories for its runs.

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
