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

#[test]
fn matches_a_from_scratch_ranking_at_every_time() {
    let planned = (KIND.parse)(yaml(
        "input: x\ngroup_by: [item_category]\norder_by: [units, shelf_id DESC]\nk: 3",
    ))
    .unwrap()
    .plan("op", &[sales()])
    .unwrap();
    let mut state = 17u64;
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        state >> 33
    };
    let (mut live, mut input): (Vec<crate::Row>, Vec<crate::testing::Update>) =
        (Vec::new(), Vec::new());
    for step in 0..600u64 {
        let time = step / 4 + 1;
        if !live.is_empty() && next() % 3 == 0 {
            let row = live.remove(next() as usize % live.len());
            input.push((row, time, -1));
        } else {
            let row = vec![
                s(["A", "B"][(next() % 2) as usize]),
                s(&format!("S{}", next() % 9)),
                i((next() % 20) as i64),
            ];
            live.push(row.clone());
            input.push((row, time, 1));
        }
    }
    let out = run_planned(planned, vec![input.clone()]).remove(0);
    for t in 1..=150 {
        let rows = state_at(&input, t);
        let mut expected = Vec::new();
        for group in ["A", "B"] {
            let mut members: Vec<&crate::Row> = rows.iter().filter(|r| r[0] == s(group)).collect();
            members.sort_by(|a, b| a[2].cmp(&b[2]).then(b[1].cmp(&a[1])).then(a.cmp(b)));
            for (rank, row) in members.into_iter().take(3).enumerate() {
                let mut ranked = row.clone();
                ranked.push(i(rank as i64 + 1));
                expected.push(ranked);
            }
        }
        expected.sort();
        assert_eq!(state_at(&out, t), expected, "time {t}");
    }
}
