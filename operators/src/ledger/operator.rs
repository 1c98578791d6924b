use std::cmp::Ordering;
use std::sync::Arc;

use crate::plan::{ArrangementCache, Coll, Diff, Output, PlannedOperator, Time};
use crate::sequential::{process_sequentially, KeyedInput, SequentialLogic, Step};
use crate::value::{Row, Schema, Value};

/// Which columns of the movements the ledger reads.
#[derive(Debug)]
pub struct LedgerRules {
    /// The operator's name.
    pub name: String,
    /// Key column positions.
    pub key: Vec<usize>,
    /// Batch code column (string, nullable).
    pub batch: usize,
    /// Signed quantity column (int).
    pub quantity: usize,
    /// Expiry column (date, nullable).
    pub expiry: usize,
    /// Received-date column, when the output carries it.
    pub received: Option<usize>,
    /// Orders the movements of one key within one time.
    pub order_by: Option<usize>,
}

/// Output ports.
const MAIN: usize = 0;
const REJECTED: usize = 1;

/// One batch of a key.
#[derive(Debug, Clone)]
struct Lot {
    /// Batch code; NULL for the unbatched lot.
    code: Value,
    expiry: Value,
    received: Value,
    /// Always > 0 while the lot exists.
    quantity: i64,
    updated_at: Time,
}

impl Lot {
    /// First-expiry-first-out order: earliest expiry first, NULL expiry last, then batch code.
    fn fefo(&self, other: &Lot) -> Ordering {
        (self.expiry.is_null(), &self.expiry, &self.code).cmp(&(
            other.expiry.is_null(),
            &other.expiry,
            &other.code,
        ))
    }
}

/// One key's batches, kept in first-expiry-first-out order.
#[derive(Debug, Default)]
pub struct Batches {
    lots: Vec<Lot>,
}

/// Why a movement was not applied, and how many units were missing.
type Rejection = (&'static str, i64);

impl Batches {
    fn insert(&mut self, lot: Lot) {
        let at = self.lots.partition_point(|l| l.fefo(&lot) == Ordering::Less);
        self.lots.insert(at, lot);
    }

    /// Applies one movement of `units` (non-zero) for batch `code` (NULL: any) at `time`.
    fn apply(
        &mut self,
        units: i64,
        code: &Value,
        expiry: &Value,
        received: &Value,
        time: Time,
    ) -> Result<(), Rejection> {
        let found =
            if code.is_null() { None } else { self.lots.iter().position(|l| l.code == *code) };
        if units > 0 {
            let target = match (found, code.is_null()) {
                (Some(i), _) => Some(i),
                (None, true) if !self.lots.is_empty() => Some(0),
                (None, _) => None,
            };
            match target {
                Some(i) => {
                    let lot = &mut self.lots[i];
                    lot.quantity = lot.quantity.saturating_add(units);
                    lot.updated_at = time;
                }
                None => self.insert(Lot {
                    code: code.clone(),
                    expiry: expiry.clone(),
                    received: received.clone(),
                    quantity: units,
                    updated_at: time,
                }),
            }
            return Ok(());
        }
        let need = units.unsigned_abs().min(i64::MAX as u64) as i64;
        if !code.is_null() {
            let available = found.map_or(0, |i| self.lots[i].quantity);
            if available < need {
                return Err(("insufficient_batch", need - available));
            }
            let i = found.expect("a batch holding units exists");
            self.lots[i].quantity -= need;
            self.lots[i].updated_at = time;
            if self.lots[i].quantity == 0 {
                self.lots.remove(i);
            }
            return Ok(());
        }
        let total = self.lots.iter().fold(0i64, |sum, l| sum.saturating_add(l.quantity));
        if total < need {
            return Err(("insufficient_stock", need - total));
        }
        let mut left = need;
        for lot in &mut self.lots {
            if left == 0 {
                break;
            }
            let take = left.min(lot.quantity);
            lot.quantity -= take;
            lot.updated_at = time;
            left -= take;
        }
        self.lots.retain(|l| l.quantity > 0);
        Ok(())
    }
}

impl LedgerRules {
    fn rejected_row(&self, input: &Row, reason: &str, shortfall: Option<i64>) -> Row {
        let mut row = Row::with_capacity(input.len() + 2);
        row.extend(input.iter().cloned());
        row.push(Value::str(reason));
        row.push(shortfall.map_or(Value::Null, Value::Int));
        row
    }
}

impl SequentialLogic for LedgerRules {
    type State = Batches;

    fn start(&self, _key: &[Value]) -> Batches {
        Batches::default()
    }

    fn update(&self, state: &mut Batches, step: &mut Step<'_>, _: usize, row: Row, diff: Diff) {
        let row = &row;
        let Some(quantity) = row[self.quantity].as_int() else {
            let rejected = self.rejected_row(row, "null_quantity", None);
            step.emit(REJECTED, rejected, diff.abs());
            return;
        };
        if quantity == 0 {
            return;
        }
        // A retracted row undoes its movement.
        let units = if diff > 0 { quantity } else { quantity.saturating_neg() };
        let received = self.received.map_or(&Value::Null, |c| &row[c]);
        for _ in 0..diff.unsigned_abs() {
            let applied =
                state.apply(units, &row[self.batch], &row[self.expiry], received, step.time);
            if let Err((reason, shortfall)) = applied {
                step.emit(REJECTED, self.rejected_row(row, reason, Some(shortfall)), 1);
            }
        }
    }

    fn render(&self, state: &Batches, key: &[Value], rows: &mut Vec<(usize, Row)>) {
        for lot in &state.lots {
            let mut row = Row::with_capacity(key.len() + 5);
            row.extend(key.iter().cloned());
            row.push(lot.code.clone());
            row.push(lot.expiry.clone());
            if self.received.is_some() {
                row.push(lot.received.clone());
            }
            row.push(Value::Int(lot.quantity));
            row.push(Value::Timestamp(lot.updated_at as i64));
            rows.push((MAIN, row));
        }
    }

    fn is_idle(&self, state: &Batches) -> bool {
        state.lots.is_empty()
    }
}

/// Books the movements of `input` into per-key batch ledgers (see [`super::LedgerConfig`]) and
/// returns `(batches, rejected)`. Keys are spread over workers by hash; each key's movements are
/// applied in time order on one worker, so the result does not depend on the worker count.
pub fn book_movements<'s>(input: Coll<'s>, rules: Arc<LedgerRules>) -> (Coll<'s>, Coll<'s>) {
    let read = KeyedInput {
        key: rules.key.clone(),
        order_by: rules.order_by,
        inflows_first: Some(rules.quantity),
    };
    let mut outputs = process_sequentially(
        &format!("Ledger: {}", rules.name),
        &[input],
        &[],
        vec![read].into(),
        rules,
        2,
    );
    let rejected = outputs.pop().expect("two outputs");
    let batches = outputs.pop().expect("two outputs");
    (batches, rejected)
}

#[derive(Debug)]
pub(crate) struct PlannedLedger {
    pub(crate) rules: Arc<LedgerRules>,
    pub(crate) main: Schema,
    pub(crate) rejected: Schema,
}

impl PlannedOperator for PlannedLedger {
    fn outputs(&self) -> Vec<Output> {
        vec![
            Output { suffix: None, schema: self.main.clone() },
            Output { suffix: Some("rejected"), schema: self.rejected.clone() },
        ]
    }

    fn build<'s>(
        &self,
        inputs: &[(&str, Coll<'s>)],
        _: &mut ArrangementCache<'s>,
    ) -> Vec<Coll<'s>> {
        let (batches, rejected) = book_movements(inputs[0].1.clone(), self.rules.clone());
        vec![batches, rejected]
    }
}
