use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::plan::{ArrangementCache, Coll, Diff, Output, PlannedOperator, Time};
use crate::sequential::{
    ceil_units, process_sequentially, stable_id, KeyedInput, Levels, OperandSpec, SequentialLogic,
    Step,
};
use crate::value::{Days, Row, Schema, Value, MICROS_PER_DAY};

use super::config::DemandFrom;
use super::forecast::{ForecastBook, ForecastRules, Planned};

/// What a supplier plan reads from its three inputs.
#[derive(Debug)]
pub struct SupplierRules {
    /// The operator's name, part of every `order_id`.
    pub name: String,
    /// Key column positions in `levels`.
    pub levels_key: Vec<usize>,
    /// Key column positions in `receipts`.
    pub receipts_key: Vec<usize>,
    /// Units on hand (int).
    pub on_hand: OperandSpec,
    /// Units the key can hold.
    pub capacity: OperandSpec,
    /// Units per batch (int).
    pub batch_size: OperandSpec,
    /// Units per day.
    pub demand: OperandSpec,
    /// Reorder point in days of demand.
    pub cover: OperandSpec,
    /// Order-up-to level in days of demand.
    pub up_to: OperandSpec,
    /// Triggers: delivery time column.
    pub delivery_at: usize,
    /// Receipts: order id column.
    pub order_id: usize,
    /// Receipts: quantity column.
    pub quantity: usize,
    /// Receipts: orders the receipts of one key within one time.
    pub order_by: Option<usize>,
    /// The forecast input, if any.
    pub forecast: Option<ForecastRules>,
}

/// Namespace of order ids (UUID v5).
const ORDER_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x2d8e_64b0_93f1_4a27_b5c6_0f7e_1a9d_c348);

/// Keyed inputs and output ports.
const LEVELS: usize = 0;
const RECEIPTS: usize = 1;
const ORDERS: usize = 0;
const IGNORED: usize = 1;

/// Order statuses.
const ISSUED: &str = "issued";
const DELIVERED: &str = "delivered";

/// One supplier order.
#[derive(Debug, Clone)]
struct Order {
    id: Value,
    status: &'static str,
    quantity: i64,
    batch_size: i64,
    cutoff_at: Time,
    delivery_at: Value,
    on_hand: i64,
    on_order: i64,
    demand: f64,
    received: i64,
    received_at: Option<Time>,
    updated_at: Time,
}

/// One key's level rows and orders.
#[derive(Debug, Default)]
pub struct SupplierState {
    /// Normally a single row; several only if `levels` is not unique per key.
    levels: Levels,
    /// Orders waiting for delivery, in issue order (rendered).
    issued: Vec<Order>,
    /// Delivered orders by id, kept for further receipts (already in the output, not rendered).
    delivered: FxHashMap<Value, Order>,
    /// The last cutoff time that issued an order.
    last_cutoff: Option<Time>,
    /// Forecast rows of the key's latest origin.
    forecast: ForecastBook,
}

impl SupplierRules {
    fn order_row(&self, order: &Order, key: &[Value]) -> Row {
        let mut row = Row::with_capacity(key.len() + 13);
        row.push(order.id.clone());
        row.extend(key.iter().cloned());
        row.push(Value::str(order.status));
        row.push(Value::Int(order.quantity));
        row.push(Value::Int(order.quantity / order.batch_size));
        row.push(Value::Int(order.batch_size));
        row.push(Value::Timestamp(order.cutoff_at as i64));
        row.push(order.delivery_at.clone());
        row.push(Value::Int(order.on_hand));
        row.push(Value::Int(order.on_order));
        row.push(Value::Float(order.demand));
        row.push(Value::Int(order.received));
        row.push(order.received_at.map_or(Value::Null, |t| Value::Timestamp(t as i64)));
        row.push(Value::Timestamp(order.updated_at as i64));
        row
    }

    fn ignore(&self, step: &mut Step<'_>, row: &Row, reason: &str, diff: Diff) {
        let mut ignored = row.clone();
        ignored.push(Value::str(reason));
        step.emit(IGNORED, ignored, diff.abs());
    }

    /// Applies one receipt.
    fn receive(&self, state: &mut SupplierState, step: &mut Step<'_>, row: &Row, diff: Diff) {
        if diff < 0 {
            return self.ignore(step, row, "retracted", diff);
        }
        let Some(quantity) = row[self.quantity].as_int() else {
            return self.ignore(step, row, "null_quantity", diff);
        };
        let id = &row[self.order_id];
        let units = quantity.saturating_mul(diff as i64);
        let mut order = match state.issued.iter().position(|o| o.id == *id) {
            // Leaves the rendered rows: the core retracts its `issued` row.
            Some(i) => state.issued.remove(i),
            None => match state.delivered.remove(id) {
                Some(order) => {
                    step.emit(ORDERS, self.order_row(&order, step.key), -1);
                    order
                }
                None => return self.ignore(step, row, "unknown_order", diff),
            },
        };
        order.status = DELIVERED;
        order.received = order.received.saturating_add(units);
        order.received_at = Some(step.time);
        order.updated_at = step.time;
        step.emit(ORDERS, self.order_row(&order, step.key), 1);
        state.delivered.insert(order.id.clone(), order);
    }

    /// The demand a cutoff at `time` plans for a key at `level`: from its forecast when the plan
    /// follows forecasts and the key has a complete one, else from the `demand` operand.
    fn planned_demand(&self, level: &Row, book: &mut ForecastBook, time: Time) -> Option<Planned> {
        let cover = self.cover.eval(level)?;
        let up_to = self.up_to.eval(level)?;
        let rules = self.forecast.as_ref().filter(|f| f.demand_from == DemandFrom::Forecast);
        let day = (time as i64).div_euclid(MICROS_PER_DAY) as Days;
        if let Some(planned) = rules.and_then(|rules| book.plan(rules, day, cover, up_to)) {
            return Some(planned);
        }
        let demand = self.demand.eval(level)?;
        Some(Planned {
            reorder_point: demand * cover,
            order_up_to: demand * up_to,
            per_day: demand,
        })
    }

    /// The order a cutoff at `time` issues for a key at `level`, or `None`.
    fn order_for(
        &self,
        level: &Row,
        on_order: i64,
        planned: Planned,
        key: &[Value],
        time: Time,
        delivery_at: &Value,
    ) -> Option<Order> {
        let on_hand = self.on_hand.eval_int(level)?;
        let capacity = self.capacity.eval(level)?;
        let batch_size = self.batch_size.eval_int(level).filter(|b| *b > 0)?;
        let position = on_hand.saturating_add(on_order);
        if position >= ceil_units(planned.reorder_point) {
            return None;
        }
        let want = ceil_units(planned.order_up_to).saturating_sub(position);
        let wanted = want.div_euclid(batch_size) + i64::from(want.rem_euclid(batch_size) != 0);
        let room = ((capacity - position as f64) / batch_size as f64).floor() as i64;
        let quantity = wanted.min(room).saturating_mul(batch_size);
        (quantity > 0).then(|| Order {
            id: stable_id(&ORDER_NAMESPACE, &self.name, key, time),
            status: ISSUED,
            quantity,
            batch_size,
            cutoff_at: time,
            delivery_at: delivery_at.clone(),
            on_hand,
            on_order,
            demand: planned.per_day,
            received: 0,
            received_at: None,
            updated_at: time,
        })
    }
}

impl SequentialLogic for SupplierRules {
    type State = SupplierState;

    fn start(&self, _key: &[Value]) -> SupplierState {
        SupplierState::default()
    }

    fn update(
        &self,
        state: &mut SupplierState,
        step: &mut Step<'_>,
        input: usize,
        row: Row,
        diff: Diff,
    ) {
        let row = &row;
        match (input, &self.forecast) {
            (LEVELS, _) => state.levels.update(row, diff),
            (RECEIPTS, _) => self.receive(state, step, row, diff),
            // Kept only when orders follow it: under `history` the input is read and dropped.
            (_, Some(rules)) if rules.demand_from == DemandFrom::Forecast => {
                state.forecast.update(rules, row, diff)
            }
            (_, Some(_)) => {}
            (_, None) => unreachable!("a forecast row without a forecast input"),
        }
    }

    fn trigger(
        &self,
        state: &mut SupplierState,
        step: &mut Step<'_>,
        _: usize,
        row: &Row,
        diff: Diff,
    ) {
        if diff < 0 || state.last_cutoff == Some(step.time) {
            return;
        }
        let Some(level) = state.levels.current() else {
            return;
        };
        let Some(planned) = self.planned_demand(level, &mut state.forecast, step.time) else {
            return;
        };
        let on_order = state.issued.iter().fold(0i64, |sum, o| sum.saturating_add(o.quantity));
        let delivery_at = &row[self.delivery_at];
        let order = self.order_for(level, on_order, planned, step.key, step.time, delivery_at);
        if let Some(order) = order {
            state.issued.push(order);
            state.last_cutoff = Some(step.time);
        }
    }

    fn render(&self, state: &SupplierState, key: &[Value], rows: &mut Vec<(usize, Row)>) {
        rows.extend(state.issued.iter().map(|o| (ORDERS, self.order_row(o, key))));
    }

    fn is_idle(&self, state: &SupplierState) -> bool {
        state.levels.is_empty()
            && state.issued.is_empty()
            && state.delivered.is_empty()
            && state.forecast.is_empty()
    }
}

/// Plans supplier orders per key at each trigger (see [`super::SupplierPlanConfig`]) and returns
/// `(orders, ignored receipts)`. Levels and receipts are spread over workers by key hash; every
/// worker sees every trigger and applies it to the keys it holds, so the orders do not depend on
/// the worker count.
pub fn plan_supplier_orders<'s>(
    levels: Coll<'s>,
    triggers: Coll<'s>,
    receipts: Coll<'s>,
    forecast: Option<Coll<'s>>,
    rules: Arc<SupplierRules>,
) -> (Coll<'s>, Coll<'s>) {
    let mut read = vec![
        KeyedInput::by(rules.levels_key.clone()),
        KeyedInput {
            key: rules.receipts_key.clone(),
            order_by: rules.order_by,
            inflows_first: None,
        },
    ];
    let mut keyed = vec![levels, receipts];
    if let (Some(forecast), Some(columns)) = (forecast, &rules.forecast) {
        read.push(KeyedInput::by(columns.key.clone()));
        keyed.push(forecast);
    }
    let mut outputs = process_sequentially(
        &format!("SupplierPlan: {}", rules.name),
        &keyed,
        &[triggers],
        read.into(),
        rules,
        2,
    );
    let ignored = outputs.pop().expect("two outputs");
    let orders = outputs.pop().expect("two outputs");
    (orders, ignored)
}

#[derive(Debug)]
pub(crate) struct PlannedSupplier {
    pub(crate) rules: Arc<SupplierRules>,
    pub(crate) orders: Schema,
    pub(crate) ignored: Schema,
}

impl PlannedOperator for PlannedSupplier {
    fn outputs(&self) -> Vec<Output> {
        vec![
            Output { suffix: None, schema: self.orders.clone() },
            Output { suffix: Some("ignored"), schema: self.ignored.clone() },
        ]
    }

    fn build<'s>(
        &self,
        inputs: &[(&str, Coll<'s>)],
        _: &mut ArrangementCache<'s>,
    ) -> Vec<Coll<'s>> {
        let (orders, ignored) = plan_supplier_orders(
            inputs[0].1.clone(),
            inputs[1].1.clone(),
            inputs[2].1.clone(),
            inputs.get(3).map(|(_, coll)| coll.clone()),
            self.rules.clone(),
        );
        vec![orders, ignored]
    }
}
