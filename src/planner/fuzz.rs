//! Property tests: whatever text the loader is given, validation reports or succeeds, and never
//! panics.

use std::path::Path;

use proptest::prelude::*;

use crate::spec::Document;

fn load_and_plan(text: &str) {
    if let Ok(doc) = Document::parse(Path::new("fuzz.yaml"), text, &[]) {
        let _ = super::plan(&doc);
    }
}

const SHIPPED: &str = include_str!("../../pipelines/shelf_stock.yaml");

/// YAML fragments that exercise every section and operator kind.
const PIECES: &[&str] = &[
    "sources:",
    "tables:",
    "operators:",
    "sinks:",
    "  a:",
    "  b:",
    "    op: filter",
    "    op: map",
    "    op: aggregate",
    "    op: join",
    "    op: alert",
    "    op: window",
    "    op: top_k",
    "    op: union",
    "    op: distinct",
    "    input: a",
    "    input: b",
    "    where: x > 1",
    "    when: x < (",
    "    key: [x]",
    "    schema: {x: int, t: timestamp}",
    "    event_time: t",
    "    connector: file",
    "    path: x.jsonl",
    "    group_by: [x]",
    "    aggregates: {n: count(*)}",
    "    size: 1h",
    "    k: 0",
    "    inputs: [a, a]",
    "    left: a",
    "    right: b",
    "    on: [x]",
    "tick: 0s",
    "- [",
    "{",
    "]",
    ": :",
    "&a *a",
    "!!binary x",
    "    fields: {y: x / 0}",
    "    order_by: [x DESC]",
    "${X:-1}",
    "\t",
    "'",
    "\"",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        load_and_plan(&text);
    }

    #[test]
    fn shuffled_pipeline_fragments_never_panic(pieces in proptest::collection::vec(proptest::sample::select(PIECES), 0..40)) {
        load_and_plan(&pieces.join("\n"));
    }

    #[test]
    fn mutated_shipped_pipeline_never_panics(cut in 0..SHIPPED.len(), len in 0usize..40, insert in ".{0,12}") {
        let mut text = SHIPPED.to_owned();
        let start = (0..=cut).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        let end = (start + len).min(text.len());
        let end = (end..=text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
        text.replace_range(start..end, &insert);
        load_and_plan(&text);
    }
}
