//! The dataflow operator library of shelfflow.
//!
//! Every operator is a differential-dataflow construction over collections of typed [`Row`]s.
//! An operator kind is one directory with a strict YAML config (`config.rs`), the dataflow
//! function it builds (`operator.rs`) and unit tests (`tests.rs`); [`registry`] lists them all.
//!
//! The life of an operator follows the pipeline: the YAML mapping is deserialized into the kind's
//! config ([`OperatorKind::parse`]), the config is checked purely against its input schemas
//! ([`OperatorConfig::plan`], all problems at once), and the resulting [`PlannedOperator`] builds
//! its dataflow inside a timely worker ([`PlannedOperator::build`]).

pub mod dead_letter;
pub mod decimal;
pub mod expr;
pub mod late_arrival;
pub mod value;

pub mod aggregate;
pub mod alert;
pub mod check;
pub mod distinct;
pub mod filter;
pub mod forecast;
pub mod join;
pub mod ledger;
pub mod map;
pub mod restock_plan;
pub mod rolling;
pub mod snapshot;
pub mod supplier_plan;
pub mod top_k;
pub mod union;
pub mod window;

pub mod plan;
pub mod rowwise;
pub mod sequential;
#[cfg(test)]
mod testing;

pub use plan::{
    closest, join_path, parse_config, resolve_columns, unknown_column, ArrangementCache, Coll,
    ConfigError, Diff, InputRef, InputRetention, OperatorConfig, OperatorKind, Output,
    PlannedOperator, RowArrangement, Time, Violations,
};
pub use value::{Field, Row, Schema, Type, Value};

use std::collections::BTreeMap;

/// Every operator kind, by its YAML `op:` name. One line per kind.
pub fn registry() -> BTreeMap<&'static str, OperatorKind> {
    [
        filter::KIND,
        map::KIND,
        aggregate::KIND,
        join::KIND,
        union::KIND,
        distinct::KIND,
        rolling::KIND,
        snapshot::KIND,
        forecast::KIND,
        window::KIND,
        top_k::KIND,
        alert::KIND,
        check::KIND,
        ledger::KIND,
        restock_plan::KIND,
        supplier_plan::KIND,
    ]
    .into_iter()
    .map(|kind| (kind.name, kind))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_sample_parses_and_names_its_inputs() {
        let kinds = registry();
        assert_eq!(kinds.len(), 16);
        for (name, kind) in kinds {
            let value: serde_yaml_ng::Value =
                serde_yaml_ng::from_str(kind.sample).expect("sample is YAML");
            let config = (kind.parse)(value).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!config.inputs().is_empty(), "{name} reads something");
        }
    }
}
