use serde::Deserialize;

use crate::plan::{
    parse_config, resolve_columns, unknown_column, ConfigError, InputRef, OperatorConfig,
    OperatorKind, PlannedOperator,
};
use crate::sequential::{check_reserved, key_in, typed_column, Operand, OperandSpec};
use crate::value::{Field, Schema, Type};

use super::forecast::ForecastRules;
use super::operator::{PlannedSupplier, SupplierRules};

/// Registry entry.
pub const KIND: OperatorKind = OperatorKind {
    name: "supplier_plan",
    summary: "supplier orders in whole batches per key at each cutoff, followed to delivery",
    sample: SAMPLE,
    parse,
};

const SAMPLE: &str = "levels: warehouse_position
triggers: supplier_cutoffs
receipts: warehouse_receipts
key: [shelf_id]
on_hand: warehouse_stock
capacity: warehouse_capacity
batch_size: batch_size
demand: units_per_day
reorder_cover_days: 3
order_up_to_days: 7
trigger_columns:
  delivery_at: delivery_at
receipt_columns:
  order_id: order_id
  quantity: quantity
";

fn parse(value: serde_yaml_ng::Value) -> Result<Box<dyn OperatorConfig>, ConfigError> {
    Ok(Box::new(parse_config::<SupplierPlanConfig>(value)?))
}

/// Orders from a supplier at each cutoff. Every row of `triggers` (filter the calendar to its
/// `cutoff` rows first) is delivered to every key that has state at that time, after the
/// time's level and receipt updates. For a key with a `levels` row:
///
/// - `on_order` = the quantities of its orders with status `issued`, `position = on_hand +
///   on_order`;
/// - if `position < ceil(demand * reorder_cover_days)`: `want = ceil(demand * order_up_to_days)
///   - position` units, rounded up to whole batches, then capped to the whole batches that fit:
///   `floor((capacity - position) / batch_size) * batch_size`;
/// - if that is positive, one order is issued (never more than one per key and cutoff time; a
///   key at or above its reorder point orders nothing).
///
/// A receipt (keyed by the same key columns) for an order adds its quantity to `received_qty`
/// and marks the order `delivered` (`received_at`: the last receipt), which takes it off
/// `on_order`. A receipt for an unknown order, with a NULL quantity, or with a negative
/// difference (receipts cannot be undone) changes nothing and goes to `<name>.ignored`; a
/// difference `d > 1` counts it `d` times. Retracted trigger rows are ignored, and a key whose
/// level row has a NULL or non-positive value where a number is needed orders nothing.
///
/// Main output (keyed by `order_id`), every order ever issued: `order_id` (a UUID of the
/// operator name, the key and the cutoff time: a replay gives the same ids), the key columns,
/// `status` (`issued`, `delivered`), `quantity`, `batches`, `batch_size`, `cutoff_at`,
/// `delivery_at` (from the trigger row), `on_hand`, `on_order`, `demand_per_day` (as at the
/// cutoff), `received_qty`, `received_at` (NULL until received), `updated_at`. Side output
/// `<name>.ignored`: the receipt columns and `reason` (`unknown_order`, `null_quantity`,
/// `retracted`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct SupplierPlanConfig {
    /// Current position per key: at most one row per key (if several, the largest row counts).
    pub levels: String,
    /// Order cutoffs, broadcast to every key; each row is one cutoff.
    pub triggers: String,
    /// Deliveries of orders; they carry the key columns too.
    pub receipts: String,
    /// Columns identifying what is ordered (e.g. `[shelf_id]`), in `levels` and `receipts`.
    pub key: Vec<String>,
    /// Units on hand: an int column of `levels` (or a whole number).
    pub on_hand: Operand,
    /// Units the key can hold: a column of `levels` or a number.
    pub capacity: Operand,
    /// Units per supplier batch: an int column of `levels` or a whole number.
    pub batch_size: Operand,
    /// Expected units per day: a column of `levels` or a number.
    pub demand: Operand,
    /// Order when the position covers fewer days of demand: a column of `levels` or a number.
    pub reorder_cover_days: Operand,
    /// Order up to this many days of demand: a column of `levels` or a number.
    pub order_up_to_days: Operand,
    /// Which columns of `triggers` are read.
    pub trigger_columns: TriggerColumns,
    /// Which columns of `receipts` are read.
    pub receipt_columns: ReceiptColumns,
    /// Demand forecasts per key (optional), e.g. the output of `op: forecast`: one row per key,
    /// origin day and horizon day. They carry the key columns too.
    #[serde(default)]
    pub forecast: Option<String>,
    /// Which columns of `forecast` are read (required with `forecast`).
    #[serde(default)]
    pub forecast_columns: Option<ForecastColumns>,
    /// Where the demand comes from: `history` (default) reads `demand`; `forecast` plans from
    /// the key's latest forecast, and from `demand` while the key has none.
    #[serde(default)]
    pub demand_from: DemandFrom,
    /// With `demand_from: forecast`: the safety stock is this many times the forecast error
    /// over the days covered (default 1).
    #[serde(default = "one")]
    pub safety_factor: f64,
}

fn one() -> f64 {
    1.0
}

/// Where a supplier plan's demand comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DemandFrom {
    /// The `demand` operand: units per day.
    #[default]
    History,
    /// The `forecast` input.
    Forecast,
}

/// The columns of a forecast row.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct ForecastColumns {
    /// The day the forecast was made at the end of (date).
    pub origin: String,
    /// Days after the origin the row forecasts (int, 1 = the next day).
    pub horizon_day: String,
    /// Expected units sold that day (float or int).
    pub units: String,
    /// Expected absolute error of `units` in units (float or int), for the safety stock.
    #[serde(default)]
    pub error: Option<String>,
}

/// The columns of a cutoff row.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct TriggerColumns {
    /// When the orders of this cutoff are delivered (timestamp, may be NULL).
    pub delivery_at: String,
}

/// The columns of a receipt.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct ReceiptColumns {
    /// The order delivered (string).
    pub order_id: String,
    /// Units received (int).
    pub quantity: String,
    /// Orders the receipts of one key within one time (default: the receipts' event-time
    /// column, if they have one).
    #[serde(default)]
    pub order_by: Option<String>,
}

/// Columns an order row has besides the key.
const ORDER_COLUMNS: [&str; 13] = [
    "order_id",
    "status",
    "quantity",
    "batches",
    "batch_size",
    "cutoff_at",
    "delivery_at",
    "on_hand",
    "on_order",
    "demand_per_day",
    "received_qty",
    "received_at",
    "updated_at",
];

impl OperatorConfig for SupplierPlanConfig {
    fn inputs(&self) -> Vec<InputRef> {
        let mut inputs = vec![
            InputRef::new(&self.levels, "levels"),
            InputRef::new(&self.triggers, "triggers"),
            InputRef::new(&self.receipts, "receipts"),
        ];
        inputs.extend(self.forecast.as_ref().map(|f| InputRef::new(f, "forecast")));
        inputs
    }

    fn plan(
        &self,
        name: &str,
        inputs: &[Schema],
    ) -> Result<Box<dyn PlannedOperator>, Vec<ConfigError>> {
        let (levels, triggers, receipts) = (&inputs[0], &inputs[1], &inputs[2]);
        let mut errors = Vec::new();
        if self.key.is_empty() {
            errors.push(ConfigError::new("key", "expected at least one key column, found none"));
        }
        let key = resolve_columns(levels, &self.key, "key").unwrap_or_else(|e| {
            errors.extend(e);
            Vec::new()
        });
        let key_types: Vec<Type> = key.iter().map(|&c| levels.fields[c].ty).collect();
        let receipts_key =
            key_in(receipts, &self.receipts, &self.key, &key_types, "key", &mut errors);
        let on_hand = self.on_hand.resolve(levels, "on_hand", true, &mut errors);
        let capacity = self.capacity.resolve(levels, "capacity", false, &mut errors);
        let batch_size = self.batch_size.resolve(levels, "batch_size", true, &mut errors);
        if let Some(OperandSpec::Number(n)) = batch_size {
            if n <= 0.0 {
                errors.push(ConfigError::new(
                    "batch_size",
                    format!("expected a positive number, found {n}"),
                ));
            }
        }
        let demand = self.demand.resolve(levels, "demand", false, &mut errors);
        let cover =
            self.reorder_cover_days.resolve(levels, "reorder_cover_days", false, &mut errors);
        let up_to = self.order_up_to_days.resolve(levels, "order_up_to_days", false, &mut errors);
        let delivery_at = typed_column(
            triggers,
            &self.trigger_columns.delivery_at,
            "trigger_columns.delivery_at",
            &[Type::Timestamp],
            &mut errors,
        );
        let columns = &self.receipt_columns;
        let order_id = typed_column(
            receipts,
            &columns.order_id,
            "receipt_columns.order_id",
            &[Type::String],
            &mut errors,
        );
        let quantity = typed_column(
            receipts,
            &columns.quantity,
            "receipt_columns.quantity",
            &[Type::Int],
            &mut errors,
        );
        let forecast = self.forecast_rules(inputs.get(3), &key_types, &mut errors);
        let order_by = match &columns.order_by {
            Some(column) => receipts.index_of(column).or_else(|| {
                errors.push(unknown_column(receipts.names(), column, "receipt_columns.order_by"));
                None
            }),
            None => receipts.event_time,
        };
        check_reserved(
            self.key.iter().cloned(),
            &ORDER_COLUMNS,
            "supplier plan",
            "key",
            &mut errors,
        );
        check_reserved(
            receipts.names().map(str::to_owned),
            &["reason"],
            "supplier plan's `ignored` output",
            "receipts",
            &mut errors,
        );
        let (
            Some(on_hand),
            Some(capacity),
            Some(batch_size),
            Some(demand),
            Some(cover),
            Some(up_to),
            Some(delivery_at),
            Some(order_id),
            Some(quantity),
        ) = (on_hand, capacity, batch_size, demand, cover, up_to, delivery_at, order_id, quantity)
        else {
            return Err(errors);
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut fields = vec![Field::new("order_id", Type::String, false)];
        fields.extend(key.iter().map(|&c| levels.fields[c].clone()));
        fields.push(Field::new("status", Type::String, false));
        for column in ["quantity", "batches", "batch_size"] {
            fields.push(Field::new(column, Type::Int, false));
        }
        fields.push(Field::new("cutoff_at", Type::Timestamp, false));
        fields.push(Field::new("delivery_at", Type::Timestamp, true));
        fields.push(Field::new("on_hand", Type::Int, false));
        fields.push(Field::new("on_order", Type::Int, false));
        fields.push(Field::new("demand_per_day", Type::Float, false));
        fields.push(Field::new("received_qty", Type::Int, false));
        fields.push(Field::new("received_at", Type::Timestamp, true));
        fields.push(Field::new("updated_at", Type::Timestamp, false));
        let mut ignored = receipts.fields.clone();
        ignored.push(Field::new("reason", Type::String, false));
        Ok(Box::new(PlannedSupplier {
            rules: SupplierRules {
                name: name.to_owned(),
                levels_key: key,
                receipts_key,
                on_hand,
                capacity,
                batch_size,
                demand,
                cover,
                up_to,
                delivery_at,
                order_id,
                quantity,
                order_by,
                forecast,
            }
            .into(),
            orders: Schema { fields, event_time: None, key: Some(vec![0]), constant: false },
            ignored: Schema {
                fields: ignored,
                event_time: receipts.event_time,
                key: None,
                constant: false,
            },
        }))
    }
}

impl SupplierPlanConfig {
    /// The forecast input's columns, checked; `None` without a forecast input.
    fn forecast_rules(
        &self,
        forecast: Option<&Schema>,
        key_types: &[Type],
        errors: &mut Vec<ConfigError>,
    ) -> Option<ForecastRules> {
        if !(self.safety_factor.is_finite() && self.safety_factor >= 0.0) {
            errors.push(ConfigError::new(
                "safety_factor",
                format!("expected a number of at least 0, found {}", self.safety_factor),
            ));
        }
        let Some(schema) = forecast else {
            if self.demand_from == DemandFrom::Forecast {
                errors.push(
                    ConfigError::new("demand_from", "`forecast` needs a `forecast` input")
                        .hint("add `forecast: <collection>` and `forecast_columns`, or use `demand_from: history`"),
                );
            }
            return None;
        };
        let Some(columns) = &self.forecast_columns else {
            errors.push(
                ConfigError::new("forecast_columns", "missing: which columns of `forecast` to read")
                    .hint("e.g. `forecast_columns: {origin: feature_date, horizon_day: horizon_day, units: forecast_units, error: error_units}`"),
            );
            return None;
        };
        let name = self.forecast.as_deref().unwrap_or("forecast");
        let key = key_in(schema, name, &self.key, key_types, "key", errors);
        let numeric = [Type::Float, Type::Int];
        let origin =
            typed_column(schema, &columns.origin, "forecast_columns.origin", &[Type::Date], errors);
        let horizon_day = typed_column(
            schema,
            &columns.horizon_day,
            "forecast_columns.horizon_day",
            &[Type::Int],
            errors,
        );
        let units =
            typed_column(schema, &columns.units, "forecast_columns.units", &numeric, errors);
        let error = columns
            .error
            .as_ref()
            .map(|c| typed_column(schema, c, "forecast_columns.error", &numeric, errors));
        Some(ForecastRules {
            key,
            origin: origin?,
            horizon_day: horizon_day?,
            units: units?,
            error: match error {
                Some(column) => Some(column?),
                None => None,
            },
            demand_from: self.demand_from,
            safety_factor: self.safety_factor,
        })
    }
}
