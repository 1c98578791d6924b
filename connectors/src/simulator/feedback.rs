//! `connector: simulator` sinks: what the pipelines tell the simulated store.
//!
//! A feedback sink closes the loop between the dataflow and the store: restock plans are
//! picked by the staff, supplier orders are delivered by the suppliers, near-expiry discounts
//! change what customers pick and pay. The runtime routes the sink's changes back into the
//! simulation with a delay of the store's `pick_delay`, in event time, so the loop is exact
//! and deterministic whatever the speed or the worker count.

use indexmap::IndexMap;
use serde::Deserialize;
use shelfflow_operators::parse_config;
use shelfflow_operators::value::Type;

use super::world::Feedback;
use crate::{
    ConfigError, ConnectorError, Diff, Schema, SinkConfig, SinkContext, SinkKind, SinkWriter, Value,
};

/// The `simulator` sink.
pub const SINK: SinkKind = SinkKind {
    name: "simulator",
    summary: "feeds restock plans, supplier orders or discounts back into the simulated store",
    sample: SAMPLE,
    parse,
};

const SAMPLE: &str = r#"feedback: restock_plans   # restock_plans | supplier_orders | discounts
columns:                  # optional: input column of each field, when named differently
  quantity: requested_qty
"#;

fn parse(value: serde_yaml_ng::Value) -> Result<Box<dyn SinkConfig>, ConfigError> {
    let config = parse_config::<FeedbackConfig>(value)?;
    let kind = match config.feedback.as_str() {
        "restock_plans" => FeedbackKind::RestockPlans,
        "supplier_orders" => FeedbackKind::SupplierOrders,
        "discounts" => FeedbackKind::Discounts,
        other => {
            return Err(ConfigError::new("feedback", format!("unknown feedback `{other}`")).hint(
                shelfflow_operators::plan::name_hint(
                    other,
                    ["restock_plans", "supplier_orders", "discounts"].into_iter(),
                    "kinds",
                ),
            ))
        }
    };
    let fields = kind.fields();
    for name in config.columns.keys() {
        if !fields.iter().any(|(f, _)| *f == name.as_str()) {
            return Err(ConfigError::new(
                format!("columns.{name}"),
                format!("`{}` feedback has no field `{name}`", config.feedback),
            )
            .hint(shelfflow_operators::plan::name_hint(
                name,
                fields.iter().map(|(f, _)| *f),
                "fields",
            )));
        }
    }
    Ok(Box::new(FeedbackSpec { kind, columns: config.columns }))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackConfig {
    feedback: String,
    #[serde(default)]
    columns: IndexMap<String, String>,
}

/// What a feedback sink carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackKind {
    /// Restock plans (staff pick them in the warehouse).
    RestockPlans,
    /// Supplier orders (delivered into the warehouse).
    SupplierOrders,
    /// Near-expiry discounts per product and day.
    Discounts,
}

impl FeedbackKind {
    /// The fields the store reads, with their types.
    pub const fn fields(self) -> &'static [(&'static str, Type)] {
        match self {
            FeedbackKind::RestockPlans => &[
                ("plan_id", Type::String),
                ("shelf_id", Type::String),
                ("quantity", Type::Int),
                ("created_at", Type::Timestamp),
            ],
            FeedbackKind::SupplierOrders => &[
                ("order_id", Type::String),
                ("shelf_id", Type::String),
                ("quantity", Type::Int),
                ("delivery_at", Type::Timestamp),
            ],
            FeedbackKind::Discounts => {
                &[("shelf_id", Type::String), ("date", Type::Date), ("discount", Type::Float)]
            }
        }
    }
}

/// A parsed feedback sink.
#[derive(Debug, Clone)]
pub struct FeedbackSpec {
    /// What it carries.
    pub kind: FeedbackKind,
    /// Field → input column, where they differ.
    pub columns: IndexMap<String, String>,
}

impl FeedbackSpec {
    fn column(&self, field: &str) -> String {
        self.columns.get(field).cloned().unwrap_or_else(|| field.to_owned())
    }

    /// Input column positions of the fields, in [`FeedbackKind::fields`] order.
    pub fn positions(&self, schema: &Schema) -> Vec<usize> {
        self.kind.fields().iter().filter_map(|(f, _)| schema.index_of(&self.column(f))).collect()
    }

    /// What one change of the sink's input tells the store, if anything: inserted plans and
    /// orders (the store ignores ids it has seen), set and withdrawn discounts.
    pub fn interpret(&self, positions: &[usize], row: &[Value], diff: Diff) -> Option<Feedback> {
        let text = |i: usize| row[positions[i]].as_str().map(str::to_owned);
        let int = |i: usize| row[positions[i]].as_int();
        let time = |i: usize| match row[positions[i]] {
            Value::Timestamp(t) => Some(t),
            _ => None,
        };
        match self.kind {
            FeedbackKind::RestockPlans if diff > 0 => Some(Feedback::RestockPlan {
                plan_id: text(0)?,
                shelf_id: text(1)?,
                quantity: int(2)?,
                created_at: time(3)?,
            }),
            FeedbackKind::SupplierOrders if diff > 0 => Some(Feedback::SupplierOrder {
                order_id: text(0)?,
                shelf_id: text(1)?,
                quantity: int(2)?,
                delivery_at: time(3)?,
            }),
            FeedbackKind::Discounts => {
                let shelf_id = text(0)?;
                let Value::Date(date) = row[positions[1]] else { return None };
                if diff > 0 {
                    Some(Feedback::Discount {
                        shelf_id,
                        date,
                        discount: row[positions[2]].as_f64()?,
                    })
                } else {
                    Some(Feedback::DiscountWithdrawn { shelf_id, date })
                }
            }
            _ => None,
        }
    }
}

impl SinkConfig for FeedbackSpec {
    fn validate(&self, schema: &Schema) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        for (field, ty) in self.kind.fields() {
            let column = self.column(field);
            match schema.index_of(&column) {
                None => errors.push(
                    ConfigError::new(
                        if self.columns.contains_key(*field) {
                            format!("columns.{field}")
                        } else {
                            "input".to_owned()
                        },
                        format!("the input has no column `{column}` for the field `{field}`"),
                    )
                    .hint(shelfflow_operators::plan::name_hint(
                        &column,
                        schema.names(),
                        "columns",
                    )),
                ),
                Some(i) if schema.field(i).ty != *ty => errors.push(ConfigError::new(
                    "input",
                    format!(
                        "column `{column}` is {}, the field `{field}` needs {}",
                        schema.field(i).ty.name(),
                        ty.name()
                    ),
                )),
                Some(_) => {}
            }
        }
        errors
    }

    fn describe(&self, _ctx: &SinkContext) -> String {
        let what = match self.kind {
            FeedbackKind::RestockPlans => "restock plans to the store's staff",
            FeedbackKind::SupplierOrders => "supplier orders to the suppliers",
            FeedbackKind::Discounts => "discounts to the store's shelves and tills",
        };
        format!("simulated store ({what})")
    }

    fn open(&self, ctx: &SinkContext) -> Result<Box<dyn SinkWriter>, ConnectorError> {
        Err(ConnectorError::Schema {
            path: ctx.output_dir.clone(),
            message: "feedback into the simulated store needs a simulator source in the pipeline"
                .to_owned(),
        })
    }

    fn feedback(&self) -> Option<&FeedbackSpec> {
        Some(self)
    }
}
