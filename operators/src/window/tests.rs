use crate::testing::{i, run_planned, s, schema, state_at, yaml};
use crate::value::{parse_timestamp, Type, Value};

use super::{window_starts, KIND};

const MIN: i64 = 60_000_000;

fn ts(text: &str) -> Value {
    Value::Timestamp(parse_timestamp(text).unwrap())
}

fn sales() -> crate::Schema {
    let mut sch =
        schema(&[("category", Type::String), ("units", Type::Int), ("ts", Type::Timestamp)]);
    sch.event_time = Some(2);
    sch
}

#[test]
fn window_starts_cover_tumbling_and_hopping() {
    assert_eq!(window_starts(65 * MIN, 60 * MIN, 60 * MIN).collect::<Vec<_>>(), vec![60 * MIN]);
    assert_eq!(
        window_starts(65 * MIN, 60 * MIN, 15 * MIN).collect::<Vec<_>>(),
        vec![60 * MIN, 45 * MIN, 30 * MIN, 15 * MIN]
    );
    assert_eq!(
        window_starts(60 * MIN, 60 * MIN, 60 * MIN).collect::<Vec<_>>(),
        vec![60 * MIN],
        "end is exclusive"
    );
}

#[test]
fn tumbling_hourly_sums_follow_retractions() {
    let planned = (KIND.parse)(yaml(
        "input: x\nsize: 1h\ngroup_by: [category]\naggregates: {units: sum(units)}",
    ))
    .unwrap()
    .plan("op", &[sales()])
    .unwrap();
    let names: Vec<String> = planned.outputs()[0].schema.names().map(str::to_owned).collect();
    assert_eq!(names, ["window_start", "window_end", "category", "units"]);
    let a = vec![s("BEV"), i(2), ts("2026-01-01T07:10:00Z")];
    let b = vec![s("BEV"), i(3), ts("2026-01-01T07:50:00Z")];
    let c = vec![s("BEV"), i(5), ts("2026-01-01T08:00:00Z")];
    let out = run_planned(planned, vec![vec![(a.clone(), 1, 1), (b, 2, 1), (c, 2, 1), (a, 3, -1)]])
        .remove(0);
    let h7 = (ts("2026-01-01T07:00:00Z"), ts("2026-01-01T08:00:00Z"));
    let h8 = (ts("2026-01-01T08:00:00Z"), ts("2026-01-01T09:00:00Z"));
    assert_eq!(
        state_at(&out, 2),
        vec![vec![h7.0.clone(), h7.1.clone(), s("BEV"), i(5)], vec![h8.0, h8.1, s("BEV"), i(5)]]
    );
    assert_eq!(state_at(&out, 3)[0], vec![h7.0, h7.1, s("BEV"), i(3)]);
}

#[test]
fn hopping_windows_count_a_row_in_each_window() {
    let planned = (KIND.parse)(yaml(
        KIND.sample
            .replace("sales_lines", "x")
            .replace("item_category", "category")
            .replace("total_price", "units")
            .replace("quantity", "units")
            .as_str(),
    ))
    .unwrap()
    .plan("op", &[sales()])
    .unwrap();
    let row = vec![s("BEV"), i(1), ts("2026-01-01T07:20:00Z")];
    let out = run_planned(planned, vec![vec![(row, 1, 1)]]).remove(0);
    assert_eq!(state_at(&out, 1).len(), 4, "a 1h window every 15m holds each instant four times");
}

#[test]
fn time_column_must_be_a_timestamp() {
    let errors = (KIND.parse)(yaml("input: x\ntime: units\nsize: 1h\naggregates: {n: count(*)}"))
        .unwrap()
        .plan("op", &[sales()])
        .unwrap_err();
    assert_eq!(errors[0].message, "type mismatch: expected a timestamp column, found int");
}
