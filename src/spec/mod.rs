//! The pipeline language: loading YAML (with `${VAR}` interpolation and `--set` overrides),
//! locating every value by its YAML path, and the top-level pipeline structure.

mod diagnostic;
mod document;
mod pipeline;
mod spans;

pub use diagnostic::{Diagnostic, Diagnostics, Warning};
pub use document::{config_overrides, config_section, policy, Document, Override};
pub use pipeline::{
    CatchUpMode, PipelineSpec, SinkCommon, SourceCommon, TableCommon, OPERATOR_KEYS, SINK_KEYS,
    SOURCE_KEYS, TABLE_KEYS,
};
