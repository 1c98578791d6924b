use std::sync::Arc;

use crate::plan::ArrangementCache;
use crate::testing::{i, run, run_planned, s, schema, state_at, yaml};
use crate::value::{Type, Value};

use super::KIND;

fn stock() -> crate::Schema {
    let mut schema = schema(&[("shelf_id", Type::String), ("stock", Type::Int)]);
    schema.key = Some(vec![0]);
    schema
}

fn shelves() -> crate::Schema {
    let mut schema = schema(&[("shelf_id", Type::String), ("maximum_stock", Type::Int)]);
    schema.key = Some(vec![0]);
    schema
}

#[test]
fn inner_join_follows_changes_on_both_sides() {
    let planned = (KIND.parse)(yaml("left: a\nright: b\non: [shelf_id]"))
        .unwrap()
        .plan("op", &[stock(), shelves()])
        .unwrap();
    assert_eq!(
        planned.outputs()[0].schema.key,
        Some(vec![0]),
        "a table keyed by the join key keeps the left key"
    );
    let left = vec![
        (vec![s("A"), i(5)], 1, 1),
        (vec![s("A"), i(5)], 3, -1),
        (vec![s("A"), i(4)], 3, 1),
        (vec![s("B"), i(1)], 1, 1),
    ];
    let right = vec![(vec![s("A"), i(10)], 0, 1), (vec![s("B"), i(20)], 2, 1)];
    let out = run_planned(planned, vec![left, right]).remove(0);
    assert_eq!(state_at(&out, 1), vec![vec![s("A"), i(5), i(10)]]);
    assert_eq!(state_at(&out, 2), vec![vec![s("A"), i(5), i(10)], vec![s("B"), i(1), i(20)]]);
    assert_eq!(state_at(&out, 3), vec![vec![s("A"), i(4), i(10)], vec![s("B"), i(1), i(20)]]);
}

#[test]
fn left_join_pads_with_nulls_until_a_match_arrives_and_after_it_leaves() {
    let planned = (KIND.parse)(yaml("left: a\nright: b\non: [shelf_id]\nkind: left"))
        .unwrap()
        .plan("op", &[stock(), shelves()])
        .unwrap();
    assert!(planned.outputs()[0].schema.fields[2].nullable);
    let left = vec![(vec![s("A"), i(5)], 1, 1)];
    let right = vec![(vec![s("A"), i(10)], 2, 1), (vec![s("A"), i(10)], 3, -1)];
    let out = run_planned(planned, vec![left, right]).remove(0);
    assert_eq!(state_at(&out, 1), vec![vec![s("A"), i(5), Value::Null]]);
    assert_eq!(state_at(&out, 2), vec![vec![s("A"), i(5), i(10)]]);
    assert_eq!(state_at(&out, 3), vec![vec![s("A"), i(5), Value::Null]]);
}

#[test]
fn stream_stream_join_matches_every_pair() {
    let planned = (KIND.parse)(yaml("left: a\nright: b\non: [shelf_id]\nright_prefix: r_"))
        .unwrap()
        .plan("op", &[stock(), stock()])
        .unwrap();
    let names: Vec<String> = planned.outputs()[0].schema.names().map(str::to_owned).collect();
    assert_eq!(names, ["shelf_id", "stock", "r_stock"]);
    let left = vec![(vec![s("A"), i(1)], 1, 1), (vec![s("A"), i(2)], 1, 1)];
    let right = vec![(vec![s("A"), i(7)], 1, 1), (vec![s("A"), i(8)], 2, 1)];
    let out = run_planned(planned, vec![left, right]).remove(0);
    assert_eq!(state_at(&out, 2).len(), 4);
}

#[test]
fn two_joins_on_the_same_key_share_one_arrangement() {
    let planned: Arc<dyn crate::PlannedOperator> =
        (KIND.parse)(yaml("left: a\nright: b\non: [shelf_id]\nright_prefix: x_"))
            .unwrap()
            .plan("op", &[stock(), shelves()])
            .unwrap()
            .into();
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    let out = run(
        vec![vec![(vec![s("A"), i(1)], 1, 1)], vec![(vec![s("A"), i(9)], 0, 1)]],
        move |colls| {
            let mut cache = ArrangementCache::new();
            let inputs = [("stock", colls[0].clone()), ("shelves", colls[1].clone())];
            let first = planned.build(&inputs, &mut cache).remove(0);
            let second = planned.build(&inputs, &mut cache).remove(0);
            seen.store(cache.len(), std::sync::atomic::Ordering::SeqCst);
            vec![first, second]
        },
    );
    assert_eq!(
        count.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "one arrangement per (collection, key)"
    );
    assert_eq!(out[0], out[1]);
}

#[test]
fn colliding_columns_need_a_prefix_and_key_types_must_match() {
    let errors = (KIND.parse)(yaml("left: a\nright: b\non: [shelf_id]"))
        .unwrap()
        .plan("op", &[stock(), stock()])
        .unwrap_err();
    assert_eq!(errors[0].message, "duplicate column `stock`: both `a` and `b` have it");
    let mut other = shelves();
    other.fields[0].ty = Type::Int;
    let errors = (KIND.parse)(yaml("left: a\nright: b\non: [shelf_id]"))
        .unwrap()
        .plan("op", &[stock(), other])
        .unwrap_err();
    assert_eq!(
        errors[0].message,
        "type mismatch: key `shelf_id` is string on the left but `shelf_id` is int on the right"
    );
}

#[test]
fn lookup_join_against_a_constant_table_equals_the_arranged_join() {
    let mut table = shelves();
    let arranged = (KIND.parse)(yaml("left: a\nright: b\non: [shelf_id]\nkind: left"))
        .unwrap()
        .plan("op", &[stock(), table.clone()])
        .unwrap();
    table.constant = true;
    let lookup = (KIND.parse)(yaml("left: a\nright: b\non: [shelf_id]\nkind: left"))
        .unwrap()
        .plan("op", &[stock(), table])
        .unwrap();
    let mut left = Vec::new();
    for t in 0..40u64 {
        let shelf = ["A", "B", "C", "Z"][(t % 4) as usize];
        left.push((vec![s(shelf), i(t as i64)], t, 1));
        if t >= 4 {
            left.push((vec![s(shelf), i(t as i64 - 4)], t, -1));
        }
    }
    let right =
        vec![(vec![s("A"), i(10)], 0, 1), (vec![s("B"), i(20)], 0, 1), (vec![s("C"), i(30)], 0, 1)];
    let expected = run_planned(arranged, vec![left.clone(), right.clone()]).remove(0);
    let actual = run_planned(lookup, vec![left, right]).remove(0);
    assert_eq!(actual, expected);
    assert!(!expected.is_empty());
}

#[test]
fn null_keys_match_nothing_in_both_join_strategies() {
    let left = vec![(vec![Value::Null, i(1)], 1, 1), (vec![s("A"), i(2)], 1, 1)];
    let right = vec![(vec![Value::Null, i(9)], 0, 1), (vec![s("A"), i(10)], 0, 1)];
    for constant in [false, true] {
        let mut table = shelves();
        table.constant = constant;
        let inner = (KIND.parse)(yaml("left: a\nright: b\non: [shelf_id]"))
            .unwrap()
            .plan("op", &[stock(), table.clone()])
            .unwrap();
        let out = run_planned(inner, vec![left.clone(), right.clone()]).remove(0);
        assert_eq!(
            state_at(&out, 1),
            vec![vec![s("A"), i(2), i(10)]],
            "constant table: {constant}"
        );
        let outer = (KIND.parse)(yaml("left: a\nright: b\non: [shelf_id]\nkind: left"))
            .unwrap()
            .plan("op", &[stock(), table])
            .unwrap();
        let out = run_planned(outer, vec![left.clone(), right.clone()]).remove(0);
        assert_eq!(
            state_at(&out, 1),
            vec![vec![Value::Null, i(1), Value::Null], vec![s("A"), i(2), i(10)]]
        );
    }
}

#[test]
fn a_constant_table_on_the_left_joins_by_lookup_with_the_arranged_join_s_results() {
    for kind in ["inner", "left"] {
        let config = format!("left: a\nright: b\non: [shelf_id]\nkind: {kind}");
        let mut table = shelves();
        let arranged =
            (KIND.parse)(yaml(&config)).unwrap().plan("op", &[table.clone(), stock()]).unwrap();
        table.constant = true;
        let lookup = (KIND.parse)(yaml(&config)).unwrap().plan("op", &[table, stock()]).unwrap();
        // Shelves A, B, C and a NULL key in the table; the stream has A, B, Z and a NULL key,
        // with rows replaced, and keys that appear, vanish and come back.
        let table_rows = vec![
            (vec![s("A"), i(10)], 0, 1),
            (vec![s("B"), i(20)], 0, 1),
            (vec![s("C"), i(30)], 0, 1),
            (vec![Value::Null, i(40)], 0, 1),
        ];
        let mut stream = Vec::new();
        for t in 1..60u64 {
            let shelf = [s("A"), s("B"), s("Z"), Value::Null][(t % 4) as usize].clone();
            stream.push((vec![shelf.clone(), i(t as i64)], t, 1));
            if t >= 5 && t % 3 != 0 {
                stream.push((vec![shelf, i(t as i64 - 4)], t, -1));
            }
        }
        let expected = run_planned(arranged, vec![table_rows.clone(), stream.clone()]).remove(0);
        let actual = run_planned(lookup, vec![table_rows, stream]).remove(0);
        for t in 0..60 {
            assert_eq!(state_at(&actual, t), state_at(&expected, t), "{kind} join at {t}");
        }
        assert!(!expected.is_empty());
    }
}

/// A global total: one row, keyed by no columns.
fn total() -> crate::Schema {
    let mut schema = schema(&[("all_stock", Type::Int)]);
    schema.key = Some(vec![]);
    schema
}

#[test]
fn an_empty_key_joins_every_left_row_with_the_one_row_and_follows_its_changes() {
    for kind in ["inner", "left"] {
        let planned = (KIND.parse)(yaml(&format!("left: a\nright: b\non: []\nkind: {kind}")))
            .unwrap()
            .plan("op", &[stock(), total()])
            .unwrap();
        assert_eq!(planned.outputs()[0].schema.key, Some(vec![0]), "keyed as the left side");
        let left = vec![
            (vec![s("A"), i(5)], 1, 1),
            (vec![s("B"), i(3)], 1, 1),
            (vec![s("A"), i(5)], 4, -1),
            (vec![s("A"), i(6)], 4, 1),
        ];
        let right = vec![
            (vec![i(8)], 2, 1),
            (vec![i(8)], 3, -1),
            (vec![i(9)], 3, 1),
            (vec![i(9)], 4, -1),
            (vec![i(9)], 4, 1),
        ];
        let out = run_planned(planned, vec![left, right]).remove(0);
        let padded = if kind == "left" {
            vec![vec![s("A"), i(5), Value::Null], vec![s("B"), i(3), Value::Null]]
        } else {
            Vec::new()
        };
        assert_eq!(state_at(&out, 1), padded, "{kind}: no total yet");
        assert_eq!(state_at(&out, 2), vec![vec![s("A"), i(5), i(8)], vec![s("B"), i(3), i(8)]]);
        assert_eq!(
            state_at(&out, 3),
            vec![vec![s("A"), i(5), i(9)], vec![s("B"), i(3), i(9)]],
            "{kind}: a change of the one row updates every joined row"
        );
        assert_eq!(state_at(&out, 4), vec![vec![s("A"), i(6), i(9)], vec![s("B"), i(3), i(9)]]);
    }
}

#[test]
fn an_empty_key_needs_a_right_side_of_at_most_one_row() {
    let errors = (KIND.parse)(yaml("left: a\nright: b\non: []"))
        .unwrap()
        .plan("op", &[stock(), shelves()])
        .unwrap_err();
    assert_eq!(
        errors[0].message,
        "`on: []` joins every left row with the one row of `b`, which may hold more than one row"
    );
    assert!(errors[0].hint.as_deref().unwrap_or("").contains("without `group_by`"));
}
