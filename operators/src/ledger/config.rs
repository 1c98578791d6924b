use serde::Deserialize;

use crate::plan::{
    parse_config, resolve_columns, unknown_column, ConfigError, InputRef, OperatorConfig,
    OperatorKind, PlannedOperator,
};
use crate::sequential::{check_reserved, typed_column};
use crate::value::{Field, Schema, Type};

use super::operator::{LedgerRules, PlannedLedger};

/// Registry entry.
pub const KIND: OperatorKind = OperatorKind {
    name: "ledger",
    summary: "stock per key and batch from signed movements, consumed first-expiry-first-out",
    sample: SAMPLE,
    parse,
};

const SAMPLE: &str = "input: stock_movements
key: [shelf_id]
batch: batch_code
quantity: quantity
expiry: expiry_date
received: received_date
order_by: timestamp
";

fn parse(value: serde_yaml_ng::Value) -> Result<Box<dyn OperatorConfig>, ConfigError> {
    Ok(Box::new(parse_config::<LedgerConfig>(value)?))
}

/// Keeps a batch ledger per key from stock movements, applied one by one in time order (within
/// one time: by `order_by`; at equal `order_by`, receipts before issues, so a delivery and a
/// pick at the same instant are booked delivery first; then the whole row, additions before
/// retractions).
///
/// A row moves `quantity` units (signed):
/// - positive with a batch: added to that batch, which is created with the row's expiry (and
///   received date) if the key does not hold it;
/// - positive without a batch: added to the key's first batch in first-expiry-first-out order,
///   or, when the key holds none, to an unbatched lot (`batch_code` NULL) with the row's expiry;
/// - negative with a batch: taken from that batch;
/// - negative without a batch: consumed first-expiry-first-out: earliest `expiry_date` first,
///   NULL expiry last, ties by batch code.
///
/// A batch never goes negative: a movement that would take more than the batch (or the key)
/// holds is not applied at all and goes to `<name>.rejected` instead. A row whose difference is
/// `d` applies its movement `|d|` times; a negative difference (a retracted row) applies the
/// inverse movement, so retracting a receipt takes the units back out (and may be rejected in
/// turn); a row added and retracted within one time moves nothing. A zero quantity moves
/// nothing.
///
/// Main output (keyed by the key columns and `batch_code`): the key columns, `batch_code`,
/// `expiry_date`, `received_date` (only with `received`), `quantity` (always > 0: an emptied
/// batch disappears, and its expiry is forgotten) and `updated_at` (the time of the batch's last
/// change). Side output `<name>.rejected`: the input columns, `reason`
/// (`insufficient_batch`: the named batch holds less; `insufficient_stock`: the key holds
/// less; `null_quantity`) and `shortfall` (the missing units, NULL for `null_quantity`), once per
/// rejected application at the time it was rejected.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct LedgerConfig {
    /// The movements.
    pub input: String,
    /// Columns identifying one ledger (e.g. `[shelf_id]`).
    pub key: Vec<String>,
    /// The batch moved (string, NULL when the movement does not know it).
    pub batch: String,
    /// Units moved (int): positive in, negative out.
    pub quantity: String,
    /// The batch's expiry (date, may be NULL).
    pub expiry: String,
    /// The batch's received date (date), carried to the output as `received_date`.
    #[serde(default)]
    pub received: Option<String>,
    /// Orders the movements of one key within one time, e.g. the event timestamp (default: the
    /// input's event-time column, if it has one).
    #[serde(default)]
    pub order_by: Option<String>,
}

/// Columns the ledger adds to its main output after the key.
const MAIN_COLUMNS: [&str; 5] =
    ["batch_code", "expiry_date", "received_date", "quantity", "updated_at"];

/// Columns added to the input's in `<name>.rejected`.
const REJECTED_COLUMNS: [&str; 2] = ["reason", "shortfall"];

impl OperatorConfig for LedgerConfig {
    fn inputs(&self) -> Vec<InputRef> {
        vec![InputRef::new(&self.input, "input")]
    }

    fn plan(
        &self,
        name: &str,
        inputs: &[Schema],
    ) -> Result<Box<dyn PlannedOperator>, Vec<ConfigError>> {
        let input = &inputs[0];
        let mut errors = Vec::new();
        if self.key.is_empty() {
            errors.push(ConfigError::new("key", "expected at least one key column, found none"));
        }
        let key = resolve_columns(input, &self.key, "key").unwrap_or_else(|e| {
            errors.extend(e);
            Vec::new()
        });
        let batch = typed_column(input, &self.batch, "batch", &[Type::String], &mut errors);
        let quantity = typed_column(input, &self.quantity, "quantity", &[Type::Int], &mut errors);
        let expiry = typed_column(input, &self.expiry, "expiry", &[Type::Date], &mut errors);
        let received = self
            .received
            .as_ref()
            .map(|name| typed_column(input, name, "received", &[Type::Date], &mut errors));
        let order_by = match &self.order_by {
            Some(name) => match input.index_of(name) {
                Some(c) => Some(c),
                None => {
                    errors.push(unknown_column(input.names(), name, "order_by"));
                    None
                }
            },
            None => input.event_time,
        };
        check_reserved(self.key.iter().cloned(), &MAIN_COLUMNS, "ledger", "key", &mut errors);
        check_reserved(
            input.names().map(str::to_owned),
            &REJECTED_COLUMNS,
            "ledger's `rejected` output",
            "input",
            &mut errors,
        );
        let (Some(batch), Some(quantity), Some(expiry)) = (batch, quantity, expiry) else {
            return Err(errors);
        };
        let received = match received {
            Some(None) => return Err(errors),
            Some(Some(c)) => Some(c),
            None => None,
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut fields: Vec<Field> = key.iter().map(|&c| input.fields[c].clone()).collect();
        fields.push(Field::new("batch_code", Type::String, true));
        fields.push(Field::new("expiry_date", Type::Date, true));
        if received.is_some() {
            fields.push(Field::new("received_date", Type::Date, true));
        }
        fields.push(Field::new("quantity", Type::Int, false));
        fields.push(Field::new("updated_at", Type::Timestamp, false));
        let mut main_key: Vec<usize> = (0..key.len()).collect();
        main_key.push(key.len());
        let mut rejected = input.fields.clone();
        rejected.push(Field::new("reason", Type::String, false));
        rejected.push(Field::new("shortfall", Type::Int, true));
        Ok(Box::new(PlannedLedger {
            rules: LedgerRules {
                name: name.to_owned(),
                key,
                batch,
                quantity,
                expiry,
                received,
                order_by,
            }
            .into(),
            main: Schema { fields, event_time: None, key: Some(main_key), constant: false },
            rejected: Schema {
                fields: rejected,
                event_time: input.event_time,
                key: None,
                constant: false,
            },
        }))
    }
}
