//! The four event streams of a store and their fields. Every event has a unique, stable
//! `event_id` (a UUIDv5 of the seed, the store and the event's identity), the `store_id` of the
//! store it happened in and an event time `timestamp`.
//! Rows are produced in the canonical field order of [`Stream::fields`].

use shelfflow_operators::decimal::DecimalType;
use shelfflow_operators::value::Type;

/// One event stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stream {
    /// Shelf sensor readings and shelf work: pickup, putback, weight_change, refill, removal.
    ShelfEvents,
    /// Point-of-sale: one record per line item of a transaction.
    PosTransactions,
    /// Customers entering and leaving the store.
    FootTraffic,
    /// Warehouse movements: wh_in (supplier delivery), wh_out (restock pick), wh_removal.
    WhEvents,
}

/// A field of a stream: name, type, nullable.
pub type StreamField = (&'static str, Type, bool);

const SHELF_EVENTS: &[StreamField] = &[
    ("event_id", Type::String, false),
    // the store of the chain (1-based; `data generate --stores N`)
    ("store_id", Type::Int, false),
    // pickup | putback | weight_change | refill | removal
    ("event_type", Type::String, false),
    ("shelf_id", Type::String, false),
    // NULL for staff work (refill, removal)
    ("customer_id", Type::String, true),
    // the batch moved: NULL for a pickup (a sensor does not know batches: the ledger
    // consumes first-expiry-first-out) and for weight_change
    ("batch_code", Type::String, true),
    ("expiry_date", Type::Date, true),
    // units moved, always >= 0 (0 for weight_change)
    ("quantity", Type::Int, false),
    // grams, negative when goods leave the shelf
    ("delta_weight", Type::Float, false),
    // the restock plan a refill executes
    ("plan_id", Type::String, true),
    ("timestamp", Type::Timestamp, false),
];

/// A unit price in EUR, exact to the cent.
const PRICE: Type = Type::Decimal(DecimalType { precision: 10, scale: 2 });

/// A line total in EUR, exact to the cent.
const LINE_TOTAL: Type = Type::Decimal(DecimalType { precision: 12, scale: 2 });

const POS_TRANSACTIONS: &[StreamField] = &[
    ("event_id", Type::String, false),
    // the store of the chain (1-based; `data generate --stores N`)
    ("store_id", Type::Int, false),
    ("transaction_id", Type::String, false),
    ("customer_id", Type::String, false),
    // 1-based line number and the number of lines in the transaction
    ("line_no", Type::Int, false),
    ("lines", Type::Int, false),
    ("shelf_id", Type::String, false),
    ("batch_code", Type::String, false),
    ("expiry_date", Type::Date, false),
    ("quantity", Type::Int, false),
    ("unit_price", PRICE, false),
    // combined weekly and near-expiry discount, 1 - (1 - weekly)(1 - daily)
    ("discount", Type::Float, false),
    // quantity * unit_price * (1 - discount), rounded to cents
    ("total_price", LINE_TOTAL, false),
    ("timestamp", Type::Timestamp, false),
];

const FOOT_TRAFFIC: &[StreamField] = &[
    ("event_id", Type::String, false),
    // the store of the chain (1-based; `data generate --stores N`)
    ("store_id", Type::Int, false),
    // entry | exit
    ("event_type", Type::String, false),
    ("customer_id", Type::String, false),
    ("trip_duration_minutes", Type::Int, false),
    // Monday .. Sunday
    ("weekday", Type::String, false),
    // e.g. 07:00-09:59
    ("time_slot", Type::String, false),
    ("timestamp", Type::Timestamp, false),
];

const WH_EVENTS: &[StreamField] = &[
    ("event_id", Type::String, false),
    // the store of the chain (1-based; `data generate --stores N`)
    ("store_id", Type::Int, false),
    // wh_in | wh_out | wh_removal
    ("event_type", Type::String, false),
    ("shelf_id", Type::String, false),
    ("batch_code", Type::String, false),
    ("received_date", Type::Date, false),
    ("expiry_date", Type::Date, false),
    // units moved, > 0
    ("quantity", Type::Int, false),
    // the restock plan a wh_out picks for
    ("plan_id", Type::String, true),
    // the supplier order a wh_in delivers
    ("order_id", Type::String, true),
    ("timestamp", Type::Timestamp, false),
];

impl Stream {
    /// Every stream.
    pub const ALL: [Stream; 4] =
        [Stream::ShelfEvents, Stream::PosTransactions, Stream::FootTraffic, Stream::WhEvents];

    /// The YAML / file / topic name.
    pub const fn name(self) -> &'static str {
        match self {
            Stream::ShelfEvents => "shelf_events",
            Stream::PosTransactions => "pos_transactions",
            Stream::FootTraffic => "foot_traffic",
            Stream::WhEvents => "wh_events",
        }
    }

    /// The stream called `name`.
    pub fn parse(name: &str) -> Option<Stream> {
        Stream::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Canonical fields, in row order.
    pub const fn fields(self) -> &'static [StreamField] {
        match self {
            Stream::ShelfEvents => SHELF_EVENTS,
            Stream::PosTransactions => POS_TRANSACTIONS,
            Stream::FootTraffic => FOOT_TRAFFIC,
            Stream::WhEvents => WH_EVENTS,
        }
    }

    /// Position of field `name`.
    pub fn index_of(self, name: &str) -> Option<usize> {
        self.fields().iter().position(|(n, _, _)| *n == name)
    }

    /// Position of the `timestamp` field.
    pub fn time_index(self) -> usize {
        self.fields().len() - 1
    }
}
