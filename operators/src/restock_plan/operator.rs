use std::sync::Arc;

use crate::plan::{ArrangementCache, Coll, Diff, Output, PlannedOperator, Time};
use crate::sequential::{
    ceil_units, process_sequentially, stable_id, KeyedInput, Levels, OperandSpec, SequentialLogic,
    Step,
};
use crate::value::{Row, Schema, Value};

/// What a restock plan reads from its two inputs.
#[derive(Debug)]
pub struct RestockRules {
    /// The operator's name, part of every `plan_id`.
    pub name: String,
    /// Key column positions in `levels`.
    pub levels_key: Vec<usize>,
    /// Key column positions in `progress`.
    pub progress_key: Vec<usize>,
    /// Units in stock (int).
    pub stock: OperandSpec,
    /// Units when full.
    pub capacity: OperandSpec,
    /// Opening threshold, percent of capacity.
    pub threshold: OperandSpec,
    /// Restock target, percent of capacity.
    pub target: OperandSpec,
    /// Opening threshold in units.
    pub min_qty: Option<OperandSpec>,
    /// Progress: plan id column.
    pub plan_id: usize,
    /// Progress: stage column.
    pub stage: usize,
    /// Progress: quantity column.
    pub quantity: usize,
    /// Progress: orders the events of one key within one time.
    pub order_by: Option<usize>,
}

/// Namespace of plan ids (UUID v5).
const PLAN_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x7c3a_52e1_0b9d_4f6e_8a14_d2c5_91e0_3b77);

/// Inputs and output ports.
const LEVELS: usize = 0;
const PLANS: usize = 0;
const IGNORED: usize = 1;

/// Plan statuses.
const PENDING: &str = "pending";
const PICKED: &str = "picked";
const DELIVERED: &str = "delivered";

/// One restock plan.
#[derive(Debug, Clone)]
struct Plan {
    id: Value,
    status: &'static str,
    requested: i64,
    picked: i64,
    delivered: i64,
    stock_at_creation: i64,
    created_at: Time,
    picked_at: Option<Time>,
    delivered_at: Option<Time>,
    updated_at: Time,
}

/// One key's level rows and its open plan (closed plans are emitted once and forgotten).
#[derive(Debug, Default)]
pub struct RestockState {
    /// Normally a single row; several only if `levels` is not unique per key.
    levels: Levels,
    open: Option<Plan>,
}

fn timestamp(time: Option<Time>) -> Value {
    time.map_or(Value::Null, |t| Value::Timestamp(t as i64))
}

impl RestockRules {
    fn plan_row(&self, plan: &Plan, key: &[Value]) -> Row {
        let mut row = Row::with_capacity(key.len() + 10);
        row.push(plan.id.clone());
        row.extend(key.iter().cloned());
        row.push(Value::str(plan.status));
        row.push(Value::Int(plan.requested));
        row.push(Value::Int(plan.picked));
        row.push(Value::Int(plan.delivered));
        row.push(Value::Int(plan.stock_at_creation));
        row.push(Value::Timestamp(plan.created_at as i64));
        row.push(timestamp(plan.picked_at));
        row.push(timestamp(plan.delivered_at));
        row.push(Value::Timestamp(plan.updated_at as i64));
        row
    }

    fn ignore(&self, step: &mut Step<'_>, row: &Row, reason: &str, diff: Diff) {
        let mut ignored = row.clone();
        ignored.push(Value::str(reason));
        step.emit(IGNORED, ignored, diff.abs());
    }

    /// Applies one progress event to the key's open plan.
    fn progress(&self, state: &mut RestockState, step: &mut Step<'_>, row: &Row, diff: Diff) {
        if diff < 0 {
            return self.ignore(step, row, "retracted", diff);
        }
        let stage = match row[self.stage].as_str() {
            Some(PICKED) => PICKED,
            Some(DELIVERED) => DELIVERED,
            _ => return self.ignore(step, row, "unknown_stage", diff),
        };
        let Some(quantity) = row[self.quantity].as_int() else {
            return self.ignore(step, row, "null_quantity", diff);
        };
        let Some(plan) = state.open.as_mut().filter(|p| p.id == row[self.plan_id]) else {
            return self.ignore(step, row, "unknown_plan", diff);
        };
        let units = quantity.saturating_mul(diff as i64);
        if stage == PICKED {
            plan.picked = plan.picked.saturating_add(units);
            if plan.status == PENDING {
                plan.status = PICKED;
                plan.picked_at = Some(step.time);
            }
        } else {
            plan.delivered = plan.delivered.saturating_add(units);
        }
        plan.updated_at = step.time;
        if plan.picked > 0 && plan.delivered >= plan.picked {
            plan.status = DELIVERED;
            plan.delivered_at = Some(step.time);
            // Closed: it stays in the output as it is now and is no longer rendered.
            let closed = self.plan_row(plan, step.key);
            step.emit(PLANS, closed, 1);
            state.open = None;
        }
    }

    /// A new plan if the key's current level is low, or `None`.
    fn open_plan(&self, level: &Row, key: &[Value], time: Time) -> Option<Plan> {
        let stock = self.stock.eval_int(level)?;
        let capacity = self.capacity.eval(level)?;
        let threshold = self.threshold.eval(level)?;
        let target = self.target.eval(level)?;
        let below_min = match &self.min_qty {
            Some(min) => min.eval(level).is_some_and(|m| (stock as f64) < m),
            None => false,
        };
        let low = (stock as f64) * 100.0 < threshold * capacity || below_min;
        if !low {
            return None;
        }
        let requested = ceil_units(capacity * target / 100.0).saturating_sub(stock);
        (requested > 0).then(|| Plan {
            id: stable_id(&PLAN_NAMESPACE, &self.name, key, time),
            status: PENDING,
            requested,
            picked: 0,
            delivered: 0,
            stock_at_creation: stock,
            created_at: time,
            picked_at: None,
            delivered_at: None,
            updated_at: time,
        })
    }
}

impl SequentialLogic for RestockRules {
    type State = RestockState;

    fn start(&self, _key: &[Value]) -> RestockState {
        RestockState::default()
    }

    fn update(
        &self,
        state: &mut RestockState,
        step: &mut Step<'_>,
        input: usize,
        row: Row,
        diff: Diff,
    ) {
        let row = &row;
        if input != LEVELS {
            return self.progress(state, step, row, diff);
        }
        state.levels.update(row, diff);
    }

    fn finish(&self, state: &mut RestockState, step: &mut Step<'_>) {
        if state.open.is_some() {
            return;
        }
        if let Some(level) = state.levels.current() {
            state.open = self.open_plan(level, step.key, step.time);
        }
    }

    fn render(&self, state: &RestockState, key: &[Value], rows: &mut Vec<(usize, Row)>) {
        if let Some(plan) = &state.open {
            rows.push((PLANS, self.plan_row(plan, key)));
        }
    }

    fn is_idle(&self, state: &RestockState) -> bool {
        state.levels.is_empty() && state.open.is_none()
    }
}

/// Plans restocks per key from `levels` and `progress` (see [`super::RestockPlanConfig`]) and
/// returns `(plans, ignored progress)`. Keys are spread over workers by hash; each key's updates
/// are applied in time order on one worker, so the plans do not depend on the worker count.
pub fn plan_restocks<'s>(
    levels: Coll<'s>,
    progress: Coll<'s>,
    rules: Arc<RestockRules>,
) -> (Coll<'s>, Coll<'s>) {
    let read = vec![
        KeyedInput::by(rules.levels_key.clone()),
        KeyedInput {
            key: rules.progress_key.clone(),
            order_by: rules.order_by,
            inflows_first: None,
        },
    ];
    let mut outputs = process_sequentially(
        &format!("RestockPlan: {}", rules.name),
        &[levels, progress],
        &[],
        read.into(),
        rules,
        2,
    );
    let ignored = outputs.pop().expect("two outputs");
    let plans = outputs.pop().expect("two outputs");
    (plans, ignored)
}

#[derive(Debug)]
pub(crate) struct PlannedRestock {
    pub(crate) rules: Arc<RestockRules>,
    pub(crate) plans: Schema,
    pub(crate) ignored: Schema,
}

impl PlannedOperator for PlannedRestock {
    fn outputs(&self) -> Vec<Output> {
        vec![
            Output { suffix: None, schema: self.plans.clone() },
            Output { suffix: Some("ignored"), schema: self.ignored.clone() },
        ]
    }

    fn build<'s>(
        &self,
        inputs: &[(&str, Coll<'s>)],
        _: &mut ArrangementCache<'s>,
    ) -> Vec<Coll<'s>> {
        let (plans, ignored) =
            plan_restocks(inputs[0].1.clone(), inputs[1].1.clone(), self.rules.clone());
        vec![plans, ignored]
    }
}
