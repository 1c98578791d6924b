use crate::testing::{i, run_planned, s, schema, state_at, yaml};
use crate::value::Type;

use super::KIND;

fn sales() -> crate::Schema {
    schema(&[("item_category", Type::String), ("shelf_id", Type::String), ("units", Type::Int)])
}

#[test]
fn keeps_the_top_rows_per_group_and_reranks_on_change() {
    let planned = (KIND.parse)(yaml(
        "input: x\ngroup_by: [item_category]\norder_by: [units DESC, shelf_id]\nk: 2",
    ))
    .unwrap()
    .plan("op", &[sales()])
    .unwrap();
    let row = |c: &str, sh: &str, u: i64| vec![s(c), s(sh), i(u)];
    let input = vec![
        (row("BEV", "A", 5), 1, 1),
        (row("BEV", "B", 7), 1, 1),
        (row("BEV", "C", 1), 1, 1),
        (row("WIN", "D", 2), 1, 1),
        (row("BEV", "C", 1), 2, -1),
        (row("BEV", "C", 9), 2, 1),
    ];
    let out = run_planned(planned, vec![input]).remove(0);
    let ranked = |c: &str, sh: &str, u: i64, r: i64| vec![s(c), s(sh), i(u), i(r)];
    assert_eq!(
        state_at(&out, 1),
        vec![ranked("BEV", "A", 5, 2), ranked("BEV", "B", 7, 1), ranked("WIN", "D", 2, 1)]
    );
    assert_eq!(
        state_at(&out, 2),
        vec![ranked("BEV", "B", 7, 2), ranked("BEV", "C", 9, 1), ranked("WIN", "D", 2, 1)]
    );
}

#[test]
fn sample_parses_and_zero_k_is_rejected() {
    (KIND.parse)(yaml(KIND.sample)).unwrap();
    let errors = (KIND.parse)(yaml("input: x\norder_by: [units]\nk: 0"))
        .unwrap()
        .plan("op", &[sales()])
        .unwrap_err();
    assert_eq!(errors[0].path, "k");
}
