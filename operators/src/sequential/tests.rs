use std::sync::Arc;

use crate::plan::{ArrangementCache, Coll, Diff, Output, PlannedOperator};
use crate::testing::{i, run_planned, s, state_at, Update};
use crate::value::{Row, Schema, Value};

use super::testing::run_planned_on;
use super::{process_sequentially, KeyedInput, SequentialLogic, Step};

/// Logs, per key, every update and trigger in the order the core applies them. Rows are
/// `[key, order, tag]`; triggers are `[tag]`. Renders one row `[key, log]`, and emits each
/// trigger as an event on port 1.
#[derive(Debug)]
struct Log;

impl SequentialLogic for Log {
    type State = Vec<String>;

    fn start(&self, _key: &[Value]) -> Vec<String> {
        Vec::new()
    }

    fn update(
        &self,
        log: &mut Vec<String>,
        step: &mut Step<'_>,
        input: usize,
        row: Row,
        diff: Diff,
    ) {
        let row = &row;
        log.push(format!("{}{}{}@{}", input, row[2], if diff > 0 { "+" } else { "-" }, step.time));
    }

    fn trigger(&self, log: &mut Vec<String>, step: &mut Step<'_>, _: usize, row: &Row, _: Diff) {
        log.push(format!("T{}@{}", row[0], step.time));
        step.emit(1, vec![step.key[0].clone(), row[0].clone()], 1);
    }

    fn finish(&self, log: &mut Vec<String>, _step: &mut Step<'_>) {
        // A key whose log reads "drop" is forgotten.
        if log.iter().any(|l| l.starts_with("0drop")) {
            log.clear();
        }
    }

    fn render(&self, log: &Vec<String>, key: &[Value], rows: &mut Vec<(usize, Row)>) {
        if !log.is_empty() {
            rows.push((0, vec![key[0].clone(), Value::str(&log.join(" "))]));
        }
    }

    fn is_idle(&self, log: &Vec<String>) -> bool {
        log.is_empty()
    }
}

/// Two keyed inputs (`[key, order, tag]`, ordered by `order`) and one broadcast input.
#[derive(Debug)]
struct PlannedLog;

impl PlannedOperator for PlannedLog {
    fn outputs(&self) -> Vec<Output> {
        vec![
            Output { suffix: None, schema: Schema::default() },
            Output { suffix: Some("triggers"), schema: Schema::default() },
        ]
    }

    fn build<'s>(
        &self,
        inputs: &[(&str, Coll<'s>)],
        _: &mut ArrangementCache<'s>,
    ) -> Vec<Coll<'s>> {
        let read = KeyedInput { key: vec![0], order_by: Some(1), inflows_first: None };
        process_sequentially(
            "Log",
            &[inputs[0].1.clone(), inputs[1].1.clone()],
            &[inputs[2].1.clone()],
            vec![read.clone(), read].into(),
            Arc::new(Log),
            2,
        )
    }
}

fn row(key: &str, order: i64, tag: &str) -> Row {
    vec![s(key), i(order), s(tag)]
}

fn log_of(out: &[Update], time: u64, key: &str) -> Option<String> {
    state_at(out, time)
        .into_iter()
        .find(|r| r[0] == s(key))
        .map(|r| r[1].as_str().unwrap().to_owned())
}

#[test]
fn updates_of_one_time_apply_by_order_then_input_then_additions_first() {
    let first = vec![
        (row("A", 2, "late"), 1, 1),
        (row("A", 1, "b"), 1, -1),
        (row("A", 1, "c"), 1, 1),
        (row("A", 1, "a"), 1, 1),
    ];
    let second = vec![(row("A", 1, "other"), 1, 1), (row("A", 0, "early"), 1, 1)];
    let out =
        run_planned(Arc::new(PlannedLog) as Arc<dyn PlannedOperator>, vec![first, second, vec![]]);
    assert_eq!(log_of(&out[0], 1, "A").unwrap(), "1early+@1 0a+@1 0c+@1 0b-@1 1other+@1 0late+@1");
}

#[test]
fn a_row_added_and_retracted_within_one_time_is_never_applied() {
    let keyed = vec![
        (row("A", 0, "x"), 1, 1),
        (row("A", 0, "gone"), 2, 1),
        (row("A", 0, "y"), 2, 1),
        (row("A", 0, "gone"), 2, -1),
        (row("A", 0, "twice"), 3, 1),
        (row("A", 0, "twice"), 3, 1),
    ];
    let out =
        run_planned(Arc::new(PlannedLog) as Arc<dyn PlannedOperator>, vec![keyed, vec![], vec![]]);
    assert_eq!(log_of(&out[0], 3, "A").unwrap(), "0x+@1 0y+@2 0twice+@3", "one update, diff 2");
}

#[test]
fn triggers_reach_every_existing_key_after_its_updates() {
    let keyed = vec![(row("A", 0, "x"), 1, 1), (row("B", 0, "y"), 2, 1), (row("C", 0, "z"), 3, 1)];
    let triggers = vec![(vec![s("cut")], 2, 1)];
    let out = run_planned(
        Arc::new(PlannedLog) as Arc<dyn PlannedOperator>,
        vec![keyed, vec![], triggers],
    );
    assert_eq!(log_of(&out[0], 2, "A").unwrap(), "0x+@1 Tcut@2");
    assert_eq!(log_of(&out[0], 2, "B").unwrap(), "0y+@2 Tcut@2");
    assert_eq!(log_of(&out[0], 3, "C").unwrap(), "0z+@3", "C did not exist at the trigger");
    assert_eq!(
        out[1],
        vec![(vec![s("A"), s("cut")], 2, 1), (vec![s("B"), s("cut")], 2, 1)],
        "emitted rows pass through"
    );
}

#[test]
fn rendered_rows_change_by_retraction_and_forgotten_keys_retract() {
    let keyed = vec![
        (row("A", 0, "x"), 1, 1),
        (row("A", 0, "y"), 3, 1),
        (row("A", 0, "drop"), 4, 1),
        (row("A", 0, "again"), 5, 1),
    ];
    let triggers = vec![(vec![s("cut")], 4, 1)];
    let out = run_planned(
        Arc::new(PlannedLog) as Arc<dyn PlannedOperator>,
        vec![keyed, vec![], triggers],
    );
    let main = &out[0];
    assert_eq!(
        main.iter().filter(|u| u.1 == 3).map(|u| u.2).collect::<Vec<_>>(),
        vec![-1, 1],
        "one retraction and one addition at time 3"
    );
    assert!(log_of(main, 4, "A").is_none(), "the key is gone after `drop`");
    assert_eq!(
        out[1],
        vec![(vec![s("A"), s("cut")], 4, 1)],
        "the trigger came before `finish` dropped the key"
    );
    assert_eq!(log_of(main, 5, "A").unwrap(), "0again+@5", "a forgotten key starts afresh");
}

/// Random keyed updates over a few keys and times, with retractions, and some triggers.
fn random_inputs(seed: u64) -> Vec<Vec<Update>> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut inputs = vec![Vec::new(), Vec::new(), Vec::new()];
    for n in 0..300 {
        let time = 1 + next() % 40;
        let key = ["A", "B", "C", "D", "E", "F"][(next() % 6) as usize];
        let diff = if next() % 5 == 0 { -1 } else { 1 };
        let input = (next() % 2) as usize;
        inputs[input].push((row(key, (next() % 3) as i64, &format!("u{n}")), time, diff));
        if next() % 20 == 0 {
            inputs[2].push((vec![s(&format!("t{n}"))], time, 1));
        }
    }
    inputs
}

#[test]
fn results_do_not_depend_on_the_number_of_workers() {
    let planned: Arc<dyn PlannedOperator> = Arc::new(PlannedLog);
    for seed in 0..4 {
        let inputs = random_inputs(seed);
        let one = run_planned(planned.clone(), inputs.clone());
        assert!(!one[0].is_empty() && !one[1].is_empty(), "seed {seed}: something happened");
        for workers in [1, 2, 3] {
            assert_eq!(
                run_planned_on(workers, planned.clone(), inputs.clone()),
                one,
                "seed {seed}, {workers} workers"
            );
        }
    }
}
