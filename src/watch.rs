//! `shelfflow run --watch`: revalidate on every save; an invalid edit is reported and the
//! running pipeline keeps running; a valid edit replaces the running dataflow.

use std::path::Path;
use std::process::ExitCode;

use crate::runtime::RunOptions;
use crate::spec::Override;

/// Runs `file`, redeploying on every valid save.
pub fn run_watching(_file: &Path, _overrides: &[Override], _options: RunOptions, _metrics: Option<&str>) -> anyhow::Result<ExitCode> {
    anyhow::bail!("--watch is being built")
}
