use serde::Deserialize;

use crate::plan::{
    parse_config, resolve_columns, unknown_column, ConfigError, InputRef, OperatorConfig,
    OperatorKind, PlannedOperator,
};
use crate::sequential::{check_reserved, key_in, typed_column, Operand};
use crate::value::{Field, Schema, Type};

use super::operator::{PlannedRestock, RestockRules};

/// Registry entry.
pub const KIND: OperatorKind = OperatorKind {
    name: "restock_plan",
    summary: "one open restock plan per key when stock runs low, followed to picked and delivered",
    sample: SAMPLE,
    parse,
};

const SAMPLE: &str = "levels: shelf_status
progress: restock_progress
key: [shelf_id]
stock: current_stock
capacity: maximum_stock
threshold_pct: 30
target_pct: 100
min_qty: 2
progress_columns:
  plan_id: plan_id
  stage: stage
  quantity: quantity
";

fn parse(value: serde_yaml_ng::Value) -> Result<Box<dyn OperatorConfig>, ConfigError> {
    Ok(Box::new(parse_config::<RestockPlanConfig>(value)?))
}

/// Plans shelf restocks: per key, at each time after applying that time's level and progress
/// updates, a key with no open plan whose stock is low (`stock * 100 < threshold_pct *
/// capacity`, or `stock < min_qty`) opens a plan for `ceil(capacity * target_pct / 100) -
/// stock` units (none if that is not positive). At most one plan per key is open at any time.
///
/// Progress rows (keyed by the same key columns) move the open plan on: `picked` sets the
/// status `picked` (and `picked_at`, the first pick) and adds to `picked_qty`; `delivered` adds
/// to `delivered_qty`. Once `delivered_qty >= picked_qty > 0` the plan is `delivered`
/// (`delivered_at`) and closed, and a new plan may open at the same time if the stock is still
/// low. A progress row with another stage, a NULL quantity, a plan id that is not the key's open
/// plan, or a negative difference (progress cannot be undone) changes nothing and goes to
/// `<name>.ignored`. A difference `d > 1` counts the row `d` times.
///
/// Main output (keyed by `plan_id`), every plan ever opened, closed ones with their final
/// values: `plan_id` (a UUID of the operator name, the key and `created_at`: a replay gives the
/// same ids), the key columns, `status` (`pending`, `picked`, `delivered`), `requested_qty`,
/// `picked_qty`, `delivered_qty`, `stock_at_creation`, `created_at`, `picked_at`,
/// `delivered_at` (NULL until then), `updated_at`. Side output `<name>.ignored`: the progress
/// columns and `reason` (`unknown_stage`, `null_quantity`, `unknown_plan`, `retracted`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct RestockPlanConfig {
    /// Current stock: at most one row per key (if several, the largest row counts).
    pub levels: String,
    /// Plan progress events; they carry the key columns too.
    pub progress: String,
    /// Columns identifying what is restocked (e.g. `[shelf_id]`), in both inputs.
    pub key: Vec<String>,
    /// Units in stock: an int column of `levels` (or a whole number).
    pub stock: Operand,
    /// Units the key holds when full: a column of `levels` or a number.
    pub capacity: Operand,
    /// A plan opens below this percentage of `capacity`: a column of `levels` or a number.
    pub threshold_pct: Operand,
    /// A plan restocks up to this percentage of `capacity`: a column of `levels` or a number.
    pub target_pct: Operand,
    /// A plan also opens when the stock is below this many units: a column or a number.
    #[serde(default)]
    pub min_qty: Option<Operand>,
    /// Which columns of `progress` are read.
    pub progress_columns: ProgressColumns,
}

/// The columns of a restock progress event.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct ProgressColumns {
    /// The plan the event is about (string).
    pub plan_id: String,
    /// `picked` or `delivered` (string; other values are ignored).
    pub stage: String,
    /// Units picked or delivered (int).
    pub quantity: String,
    /// Orders the events of one key within one time (default: the progress input's event-time
    /// column, if it has one).
    #[serde(default)]
    pub order_by: Option<String>,
}

/// Columns a plan row has after the key.
const PLAN_COLUMNS: [&str; 10] = [
    "plan_id",
    "status",
    "requested_qty",
    "picked_qty",
    "delivered_qty",
    "stock_at_creation",
    "created_at",
    "picked_at",
    "delivered_at",
    "updated_at",
];

impl OperatorConfig for RestockPlanConfig {
    fn inputs(&self) -> Vec<InputRef> {
        vec![InputRef::new(&self.levels, "levels"), InputRef::new(&self.progress, "progress")]
    }

    fn plan(
        &self,
        name: &str,
        inputs: &[Schema],
    ) -> Result<Box<dyn PlannedOperator>, Vec<ConfigError>> {
        let (levels, progress) = (&inputs[0], &inputs[1]);
        let mut errors = Vec::new();
        if self.key.is_empty() {
            errors.push(ConfigError::new("key", "expected at least one key column, found none"));
        }
        let key = resolve_columns(levels, &self.key, "key").unwrap_or_else(|e| {
            errors.extend(e);
            Vec::new()
        });
        let key_types: Vec<Type> = key.iter().map(|&c| levels.fields[c].ty).collect();
        let progress_key =
            key_in(progress, &self.progress, &self.key, &key_types, "key", &mut errors);
        let stock = self.stock.resolve(levels, "stock", true, &mut errors);
        let capacity = self.capacity.resolve(levels, "capacity", false, &mut errors);
        let threshold = self.threshold_pct.resolve(levels, "threshold_pct", false, &mut errors);
        let target = self.target_pct.resolve(levels, "target_pct", false, &mut errors);
        let min_qty =
            self.min_qty.as_ref().map(|m| m.resolve(levels, "min_qty", false, &mut errors));
        let columns = &self.progress_columns;
        let plan_id = typed_column(
            progress,
            &columns.plan_id,
            "progress_columns.plan_id",
            &[Type::String],
            &mut errors,
        );
        let stage = typed_column(
            progress,
            &columns.stage,
            "progress_columns.stage",
            &[Type::String],
            &mut errors,
        );
        let quantity = typed_column(
            progress,
            &columns.quantity,
            "progress_columns.quantity",
            &[Type::Int],
            &mut errors,
        );
        let order_by = match &columns.order_by {
            Some(column) => progress.index_of(column).or_else(|| {
                errors.push(unknown_column(progress.names(), column, "progress_columns.order_by"));
                None
            }),
            None => progress.event_time,
        };
        check_reserved(self.key.iter().cloned(), &PLAN_COLUMNS, "restock plan", "key", &mut errors);
        check_reserved(
            progress.names().map(str::to_owned),
            &["reason"],
            "restock plan's `ignored` output",
            "progress",
            &mut errors,
        );
        let (
            Some(stock),
            Some(capacity),
            Some(threshold),
            Some(target),
            Some(plan_id),
            Some(stage),
            Some(quantity),
            Ok(min_qty),
        ) = (
            stock,
            capacity,
            threshold,
            target,
            plan_id,
            stage,
            quantity,
            min_qty.map_or(Ok(None), |m| m.map(Some).ok_or(())),
        )
        else {
            return Err(errors);
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut fields = vec![Field::new("plan_id", Type::String, false)];
        fields.extend(key.iter().map(|&c| levels.fields[c].clone()));
        fields.push(Field::new("status", Type::String, false));
        for column in ["requested_qty", "picked_qty", "delivered_qty", "stock_at_creation"] {
            fields.push(Field::new(column, Type::Int, false));
        }
        fields.push(Field::new("created_at", Type::Timestamp, false));
        fields.push(Field::new("picked_at", Type::Timestamp, true));
        fields.push(Field::new("delivered_at", Type::Timestamp, true));
        fields.push(Field::new("updated_at", Type::Timestamp, false));
        let mut ignored = progress.fields.clone();
        ignored.push(Field::new("reason", Type::String, false));
        Ok(Box::new(PlannedRestock {
            rules: RestockRules {
                name: name.to_owned(),
                levels_key: key,
                progress_key,
                stock,
                capacity,
                threshold,
                target,
                min_qty,
                plan_id,
                stage,
                quantity,
                order_by,
            }
            .into(),
            plans: Schema { fields, event_time: None, key: Some(vec![0]), constant: false },
            ignored: Schema {
                fields: ignored,
                event_time: progress.event_time,
                key: None,
                constant: false,
            },
        }))
    }
}
