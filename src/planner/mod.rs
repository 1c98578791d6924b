//! Validation and planning: a loaded [`Document`] becomes a [`Plan`] — every component parsed
//! into its strict config, every schema resolved, every expression compiled, the operator graph
//! checked and ordered — without any I/O, reporting all problems at once.

mod bind;
mod diff;
#[cfg(test)]
mod fuzz;
mod graph;
mod merge;
mod validate;

pub use bind::bind_pipeline_sources;
pub use diff::{difference, Difference};
pub use graph::{render_dot, render_json, render_text};
pub use merge::merge;
pub use validate::plan;

use std::path::PathBuf;

use indexmap::IndexMap;
use shelfflow_connectors::simulator::feedback::FeedbackColumns;
use shelfflow_connectors::simulator::{FeedbackSpec, Settings, Stream};
use shelfflow_connectors::{SinkConfig, SinkContext, SourceConfig};
use shelfflow_operators::{PlannedOperator, Schema};

/// A validated pipeline, ready to run.
#[derive(Debug)]
pub struct Plan {
    /// Pipeline name.
    pub name: String,
    /// What the pipeline is for.
    pub description: Option<String>,
    /// The file it came from.
    pub file: PathBuf,
    /// Hash of the effective definition (after interpolation and overrides).
    pub definition_hash: String,
    /// Event-time granularity in microseconds.
    pub tick: u64,
    /// `catch_up: coarse`: the grain of history and the lag behind the wall clock that makes a
    /// record history, in microseconds.
    pub catch_up: Option<(u64, u64)>,
    /// The dead-letter JSONL file.
    pub dead_letter_path: PathBuf,
    /// The Fluvio topic dead letters also go to.
    pub dead_letter_topic: Option<shelfflow_connectors::fluvio::FluvioSinkConfig>,
    /// Sources, then tables, in file order.
    pub inputs: Vec<InputPlan>,
    /// Operators in dependency order.
    pub operators: Vec<OperatorPlan>,
    /// Sinks in file order.
    pub sinks: Vec<SinkPlan>,
    /// Every named collection and its schema.
    pub collections: IndexMap<String, Schema>,
    /// The simulated store, when sources read it.
    pub simulation: Option<SimulationPlan>,
    /// Problems that do not stop the run (printed by every command that loads the plan).
    pub warnings: Vec<crate::spec::Warning>,
}

/// The simulated store of a pipeline: the sources that read its streams and the sinks that feed
/// the pipeline's plans back into it.
#[derive(Debug)]
pub struct SimulationPlan {
    /// The merged settings of every simulator source.
    pub settings: Settings,
    /// `(input index, stream, stream field of each input column)`.
    pub streams: Vec<(usize, Stream, Vec<usize>)>,
    /// `(sink index, feedback, input column of each feedback field)`.
    pub feedback: Vec<(usize, FeedbackSpec, FeedbackColumns)>,
}

/// Whether an input is an event stream or reference data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputRole {
    /// An event stream with event time.
    Source,
    /// Reference data at time 0.
    Table,
}

/// A source or table.
#[derive(Debug)]
pub struct InputPlan {
    /// Its name.
    pub name: String,
    /// Stream or table.
    pub role: InputRole,
    /// Its rows' schema.
    pub schema: Schema,
    /// The connector config.
    pub config: Box<dyn SourceConfig>,
    /// Allowed lateness in microseconds.
    pub lateness: u64,
    /// How long a record counts, in microseconds (rounded up to whole ticks when run).
    pub retention: Option<u64>,
    /// What it holds.
    pub description: Option<String>,
}

/// An operator.
#[derive(Debug)]
pub struct OperatorPlan {
    /// Its name.
    pub name: String,
    /// Its `op:` kind.
    pub kind: &'static str,
    /// Names of the collections it reads.
    pub inputs: Vec<String>,
    /// Names of the collections it produces (main first).
    pub outputs: Vec<String>,
    /// The validated operator.
    pub planned: Box<dyn PlannedOperator>,
    /// What it computes.
    pub description: Option<String>,
}

/// A sink.
#[derive(Debug)]
pub struct SinkPlan {
    /// Its name.
    pub name: String,
    /// The collection it writes.
    pub input: String,
    /// The connector config.
    pub config: Box<dyn SinkConfig>,
    /// Schema, key and output directory.
    pub context: SinkContext,
    /// What the output holds.
    pub description: Option<String>,
    /// `retention`: how long (µs, whole ticks) a row stays, and the column it counts from.
    pub retention: Option<(u64, usize)>,
}

/// The collection of every dead letter the pipeline's sources and tables reject.
pub const DEAD_LETTERS: &str = "dead_letters";

/// The collection of the dead letters input `input` rejects.
pub fn dead_letters_of(input: &str) -> String {
    format!("{input}.{DEAD_LETTERS}")
}

pub use shelfflow_operators::dead_letter::schema as dead_letter_schema;

pub use shelfflow_operators::late_arrival::collection_of as late_arrivals_of;

/// The collection of the totals of what input `input` has read.
pub fn line_count_of(input: &str) -> String {
    format!("{input}.line_count")
}

/// One row: `records` (accepted rows read so far), `dead_letters` (lines or rows rejected,
/// late ones included) and `lines` (their sum: everything read).
pub fn line_count_schema() -> Schema {
    use shelfflow_operators::{Field, Type};
    let column = |name: &str| Field::new(name, Type::Int, false);
    let mut schema = Schema::new(vec![column("records"), column("dead_letters"), column("lines")]);
    schema.key = Some(Vec::new()); // one row
    schema
}

/// Adds the collections every input brings besides its rows, so operators and sinks can read
/// them like any other: the dead letters (`dead_letters`, and `<input>.dead_letters` per input),
/// the totals read (`<input>.line_count`) and each source's late arrivals
/// (`<source>.late_arrivals`).
pub fn add_input_collections(collections: &mut IndexMap<String, Schema>, inputs: &[InputPlan]) {
    collections.entry(DEAD_LETTERS.to_owned()).or_insert_with(dead_letter_schema);
    for input in inputs {
        collections.entry(dead_letters_of(&input.name)).or_insert_with(dead_letter_schema);
        collections.entry(line_count_of(&input.name)).or_insert_with(line_count_schema);
        if input.role == InputRole::Source {
            let late = shelfflow_operators::late_arrival::schema(&input.schema);
            collections.entry(late_arrivals_of(&input.name)).or_insert(late);
        }
    }
}

impl Plan {
    /// Tells operators which of their outputs are read (by an operator, a sink, or `keep`, e.g.
    /// a tapped collection), so unread outputs are not computed.
    pub fn retain_read_outputs(&mut self, keep: &[&str]) {
        let mut read: std::collections::HashSet<&str> =
            self.sinks.iter().map(|s| s.input.as_str()).collect();
        read.extend(self.operators.iter().flat_map(|o| o.inputs.iter().map(String::as_str)));
        read.extend(keep.iter().copied());
        let read: std::collections::HashSet<String> = read.into_iter().map(str::to_owned).collect();
        for op in &mut self.operators {
            let needed: Vec<bool> = op.outputs.iter().map(|o| read.contains(o)).collect();
            op.planned.retain_outputs(&needed);
        }
    }
}

impl Plan {
    /// Which operators a run must build: those whose outputs reach, directly or through other
    /// operators, one of the `roots` (the collections that sinks write, a tap prints or the
    /// simulated store reads back). An operator that feeds only a disabled or absent sink is not
    /// built, so it costs nothing.
    pub fn needed_operators<'a>(&'a self, roots: impl IntoIterator<Item = &'a str>) -> Vec<bool> {
        let mut needed: std::collections::HashSet<&str> = roots.into_iter().collect();
        let mut built = vec![false; self.operators.len()];
        // Operators are in dependency order: walk back from the last one.
        for (i, op) in self.operators.iter().enumerate().rev() {
            if op.outputs.iter().any(|o| needed.contains(o.as_str())) {
                built[i] = true;
                needed.extend(op.inputs.iter().map(String::as_str));
            }
        }
        built
    }
}

// Plans are shared by every worker thread.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<Plan>();
};

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::spec::Document;

    const PIPELINE: &str = "sources:
  e:
    connector: file
    path: events.jsonl
    schema: {shelf_id: string, quantity: int, at: timestamp}
    event_time: at
operators:
  big:
    op: filter
    input: e
    where: quantity > 2
  per_shelf:
    op: aggregate
    input: big
    group_by: [shelf_id]
    aggregates: {units: sum(quantity)}
  costly:
    op: aggregate
    input: e
    aggregates: {shelves: count(DISTINCT shelf_id)}
sinks:
  kept:
    input: per_shelf
    connector: file
  off:
    input: costly
    connector: file
    enabled: false
";

    #[test]
    fn operators_that_feed_only_disabled_sinks_are_not_built() {
        let doc = Document::parse(Path::new("p.yaml"), PIPELINE, &[]).expect("parses");
        let plan = super::plan(&doc).expect("valid");
        let names: Vec<&str> = plan.operators.iter().map(|o| o.name.as_str()).collect();
        let needed = plan.needed_operators(plan.sinks.iter().map(|s| s.input.as_str()));
        let built: Vec<&str> =
            names.iter().zip(&needed).filter(|(_, n)| **n).map(|(name, _)| *name).collect();
        assert_eq!(built, ["big", "per_shelf"], "operators {names:?}");
        // A tap of the costly collection builds it (and only what it reads).
        let tapped = plan.needed_operators(["costly"]);
        assert_eq!(tapped, names.iter().map(|n| *n == "costly").collect::<Vec<_>>());
    }
}
