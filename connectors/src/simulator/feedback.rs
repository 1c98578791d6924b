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
  quantity: requested_qty #   (the input's `store_id`, if any, names the store of the chain)
fluvio:                   # optional: the store runs elsewhere (`simulate --to fluvio --feedback`)
  topic: store-feedback   #   feedback records go to this topic instead
  endpoint: 127.0.0.1:9003 #  optional: or `profile`, default the current profile
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
        if name != STORE_ID && !fields.iter().any(|(f, _)| *f == name.as_str()) {
            return Err(ConfigError::new(
                format!("columns.{name}"),
                format!("`{}` feedback has no field `{name}`", config.feedback),
            )
            .hint(shelfflow_operators::plan::name_hint(
                name,
                fields.iter().map(|(f, _)| *f).chain([STORE_ID]),
                "fields",
            )));
        }
    }
    Ok(Box::new(FeedbackSpec { kind, columns: config.columns, fluvio: config.fluvio }))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackConfig {
    feedback: String,
    #[serde(default)]
    columns: IndexMap<String, String>,
    #[serde(default)]
    fluvio: Option<FeedbackTopic>,
}

/// Where a feedback sink publishes when the store runs in another process (`shelfflow simulate
/// --to fluvio --feedback TOPIC` reads it back): one JSON record per plan, order or discount
/// (see [`record`]), keyed by shelf.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackTopic {
    /// The topic (created when absent).
    #[serde(default = "default_feedback_topic")]
    pub topic: String,
    /// A profile of `~/.fluvio/config`; default its current profile.
    #[serde(default)]
    pub profile: Option<String>,
    /// The SC's public address, instead of a profile.
    #[serde(default)]
    pub endpoint: Option<String>,
}

/// The topic the store reads its feedback from by default.
pub const FEEDBACK_TOPIC: &str = "store-feedback";

fn default_feedback_topic() -> String {
    FEEDBACK_TOPIC.to_owned()
}

impl FeedbackTopic {
    fn cluster(&self) -> crate::fluvio::Cluster {
        crate::fluvio::Cluster { profile: self.profile.clone(), endpoint: self.endpoint.clone() }
    }
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

/// The optional input column naming the store a plan, order or discount is for (store 1 when the
/// input has none).
pub const STORE_ID: &str = "store_id";

/// Where a feedback sink's input holds what the store reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackColumns {
    /// The fields, in [`FeedbackKind::fields`] order.
    pub fields: Vec<usize>,
    /// The `store_id` column, if any.
    pub store: Option<usize>,
}

/// A parsed feedback sink.
#[derive(Debug, Clone)]
pub struct FeedbackSpec {
    /// What it carries.
    pub kind: FeedbackKind,
    /// Field → input column, where they differ.
    pub columns: IndexMap<String, String>,
    /// Publish to a Fluvio topic instead of feeding the in-process store.
    pub fluvio: Option<FeedbackTopic>,
}

impl FeedbackSpec {
    fn column(&self, field: &str) -> String {
        self.columns.get(field).cloned().unwrap_or_else(|| field.to_owned())
    }

    /// Where the input holds the fields and the store.
    pub fn positions(&self, schema: &Schema) -> FeedbackColumns {
        FeedbackColumns {
            fields: self
                .kind
                .fields()
                .iter()
                .filter_map(|(f, _)| schema.index_of(&self.column(f)))
                .collect(),
            store: schema.index_of(&self.column(STORE_ID)),
        }
    }

    /// What one change of the sink's input tells which store, if anything: inserted plans and
    /// orders (the store ignores ids it has seen), set and withdrawn discounts.
    pub fn interpret(
        &self,
        columns: &FeedbackColumns,
        row: &[Value],
        diff: Diff,
    ) -> Option<(i64, Feedback)> {
        let store = columns.store.map_or(Some(1), |i| row[i].as_int())?;
        Some((store, self.feedback(&columns.fields, row, diff)?))
    }

    fn feedback(&self, positions: &[usize], row: &[Value], diff: Diff) -> Option<Feedback> {
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
        if let Some(fluvio) = &self.fluvio {
            errors.extend(crate::fluvio::check_topic("fluvio.topic", &fluvio.topic));
            if fluvio.profile.is_some() && fluvio.endpoint.is_some() {
                errors.push(ConfigError::new(
                    "fluvio.endpoint",
                    "give `profile` or `endpoint`, not both",
                ));
            }
        }
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
        let store = self.column(STORE_ID);
        if let Some(i) = schema.index_of(&store) {
            if schema.field(i).ty != Type::Int {
                errors.push(ConfigError::new(
                    "input",
                    format!(
                        "column `{store}` (the store) is {}, expected int",
                        schema.field(i).ty.name()
                    ),
                ));
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
        match &self.fluvio {
            Some(to) => {
                format!("{what}, to fluvio topic {} ({})", to.topic, to.cluster().describe())
            }
            None => format!("simulated store ({what})"),
        }
    }

    fn open(&self, ctx: &SinkContext) -> Result<Box<dyn SinkWriter>, ConnectorError> {
        let Some(to) = &self.fluvio else {
            return Err(ConnectorError::Schema {
                path: ctx.output_dir.clone(),
                message:
                    "feedback into the simulated store needs a simulator source in the pipeline"
                        .to_owned(),
            });
        };
        let config = crate::fluvio::FluvioSinkConfig::to_topic(to.topic.clone(), &to.cluster());
        let records =
            SinkContext { key: vec![record::SHELF_ID], schema: record::schema(), ..ctx.clone() };
        Ok(Box::new(FeedbackWriter {
            spec: self.clone(),
            positions: self.positions(&ctx.schema),
            out: crate::fluvio::FluvioWriter::open(&config, &records, false)?,
        }))
    }

    /// The in-process store's feedback, unless it goes to Fluvio.
    fn feedback(&self) -> Option<&FeedbackSpec> {
        self.fluvio.is_none().then_some(self)
    }
}

/// A feedback sink publishing to Fluvio: each change becomes what it tells the store, as a
/// feedback record.
struct FeedbackWriter {
    spec: FeedbackSpec,
    positions: FeedbackColumns,
    out: crate::fluvio::FluvioWriter,
}

impl SinkWriter for FeedbackWriter {
    fn write(
        &mut self,
        time: crate::Time,
        changes: &[crate::Change<'_>],
    ) -> Result<(), ConnectorError> {
        let rows: Vec<crate::Row> = changes
            .iter()
            .filter_map(|change| {
                let diff = match change.op {
                    crate::ChangeOp::Upsert => 1,
                    crate::ChangeOp::Delete => -1,
                };
                self.spec.interpret(&self.positions, change.row, diff)
            })
            .map(|(store, feedback)| record::to_row(store, &feedback))
            .collect();
        let changes: Vec<crate::Change<'_>> =
            rows.iter().map(|row| crate::Change { op: crate::ChangeOp::Upsert, row }).collect();
        self.out.write(time, &changes)
    }

    fn finish(&mut self) -> Result<(), ConnectorError> {
        self.out.finish()
    }
}

/// Feedback as records on a topic: `kind` (`restock_plan`, `supplier_order`, `discount`,
/// `discount_withdrawn`), `id` (plan or order), `shelf_id`, `quantity`, `at` (when the plan was
/// created or the order is delivered), `date`, `discount` and `store_id` (null = store 1); fields a
/// kind does not use are null.
pub mod record {
    use shelfflow_operators::value::{Field, Type};

    use super::super::world::Feedback;
    use crate::{Row, Schema, Value};

    /// The `shelf_id` column (the record key).
    pub const SHELF_ID: usize = 2;

    /// The records' schema.
    pub fn schema() -> Schema {
        Schema::new(vec![
            Field::new("kind", Type::String, false),
            Field::new("id", Type::String, true),
            Field::new("shelf_id", Type::String, false),
            Field::new("quantity", Type::Int, true),
            Field::new("at", Type::Timestamp, true),
            Field::new("date", Type::Date, true),
            Field::new("discount", Type::Float, true),
            Field::new("store_id", Type::Int, true),
        ])
    }

    /// A feedback for a store as a record.
    pub fn to_row(store: i64, feedback: &Feedback) -> Row {
        let (kind, id, shelf, quantity, at, date, discount) = match feedback {
            Feedback::RestockPlan { plan_id, shelf_id, quantity, created_at } => (
                "restock_plan",
                Some(plan_id),
                shelf_id,
                Some(*quantity),
                Some(*created_at),
                None,
                None,
            ),
            Feedback::SupplierOrder { order_id, shelf_id, quantity, delivery_at } => (
                "supplier_order",
                Some(order_id),
                shelf_id,
                Some(*quantity),
                Some(*delivery_at),
                None,
                None,
            ),
            Feedback::Discount { shelf_id, date, discount } => {
                ("discount", None, shelf_id, None, None, Some(*date), Some(*discount))
            }
            Feedback::DiscountWithdrawn { shelf_id, date } => {
                ("discount_withdrawn", None, shelf_id, None, None, Some(*date), None)
            }
        };
        let or_null = |v: Option<Value>| v.unwrap_or(Value::Null);
        vec![
            Value::str(kind),
            or_null(id.map(|i| Value::str(i))),
            Value::str(shelf),
            or_null(quantity.map(Value::Int)),
            or_null(at.map(Value::Timestamp)),
            or_null(date.map(Value::Date)),
            or_null(discount.map(Value::Float)),
            Value::Int(store),
        ]
    }

    /// The store and feedback a record (decoded against [`schema`]) carries; `None` when it is
    /// not one.
    pub fn from_row(row: &[Value]) -> Option<(i64, Feedback)> {
        let store = match row.get(7) {
            None | Some(Value::Null) => 1,
            Some(value) => value.as_int()?,
        };
        Some((store, feedback(row)?))
    }

    fn feedback(row: &[Value]) -> Option<Feedback> {
        let text = |i: usize| row[i].as_str().map(str::to_owned);
        let time = || match row[4] {
            Value::Timestamp(t) => Some(t),
            _ => None,
        };
        let date = || match row[5] {
            Value::Date(d) => Some(d),
            _ => None,
        };
        let shelf_id = text(SHELF_ID)?;
        match row[0].as_str()? {
            "restock_plan" => Some(Feedback::RestockPlan {
                plan_id: text(1)?,
                shelf_id,
                quantity: row[3].as_int()?,
                created_at: time()?,
            }),
            "supplier_order" => Some(Feedback::SupplierOrder {
                order_id: text(1)?,
                shelf_id,
                quantity: row[3].as_int()?,
                delivery_at: time()?,
            }),
            "discount" => {
                Some(Feedback::Discount { shelf_id, date: date()?, discount: row[6].as_f64()? })
            }
            "discount_withdrawn" => Some(Feedback::DiscountWithdrawn { shelf_id, date: date()? }),
            _ => None,
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn every_kind_of_feedback_survives_the_record() {
            let all = [
                Feedback::RestockPlan {
                    plan_id: "P1".into(),
                    shelf_id: "S1".into(),
                    quantity: 12,
                    created_at: 1_767_254_400_000_000,
                },
                Feedback::SupplierOrder {
                    order_id: "O1".into(),
                    shelf_id: "S2".into(),
                    quantity: 40,
                    delivery_at: 1_767_340_800_000_000,
                },
                Feedback::Discount { shelf_id: "S3".into(), date: 20_454, discount: 0.3 },
                Feedback::DiscountWithdrawn { shelf_id: "S3".into(), date: 20_454 },
            ];
            for feedback in all {
                let row = to_row(3, &feedback);
                assert_eq!(row.len(), schema().len());
                assert_eq!(from_row(&row), Some((3, feedback.clone())));
                // Records of the one-store simulation have no store: store 1.
                assert_eq!(from_row(&row[..7]), Some((1, feedback)));
            }
        }

        #[test]
        fn a_record_that_is_not_feedback_is_none() {
            let mut row = to_row(1, &Feedback::DiscountWithdrawn { shelf_id: "S".into(), date: 1 });
            row[0] = Value::str("refund");
            assert_eq!(from_row(&row), None);
            let mut plan = to_row(
                1,
                &Feedback::RestockPlan {
                    plan_id: "P".into(),
                    shelf_id: "S".into(),
                    quantity: 1,
                    created_at: 0,
                },
            );
            plan[3] = Value::Null; // no quantity
            assert_eq!(from_row(&plan), None);
        }
    }
}
