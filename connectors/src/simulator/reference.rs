//! The reference data of one store, in memory: what `shelfflow data generate` writes as Parquet
//! and what the simulator starts from.

use chrono::NaiveDate;

/// Where a batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Location {
    /// On the shelf in the store.
    Store,
    /// In the warehouse.
    Warehouse,
}

impl Location {
    /// `in-store` or `warehouse`, as in the batch files.
    pub const fn as_str(self) -> &'static str {
        match self {
            Location::Store => "in-store",
            Location::Warehouse => "warehouse",
        }
    }
}

/// One product and its shelf (the shelf_id is the product key everywhere).
#[derive(Debug, Clone, PartialEq)]
pub struct Shelf {
    /// e.g. `BEVWAT0001`.
    pub shelf_id: String,
    /// Aisle number, fixed per category.
    pub aisle: i64,
    /// One of the 29 categories.
    pub item_category: String,
    /// Subcategory (names repeat across categories).
    pub item_subcategory: String,
    /// Decided by category.
    pub perishable: bool,
    /// Unit weight in grams (or ml).
    pub item_weight: i64,
    /// Unit price in EUR.
    pub item_price: f64,
    /// Share of customers who see the shelf (pick weight), 0.05–0.20.
    pub item_visibility: f64,
    /// Pieces per supplier batch.
    pub standard_batch_size: i64,
    /// Shelf capacity (`maximum_stock` of the store inventory).
    pub store_capacity: i64,
    /// Units on the shelf at the simulation start.
    pub store_stock: i64,
    /// Warehouse capacity, a multiple of the batch size, at least two batches.
    pub warehouse_capacity: i64,
    /// Units in the warehouse at the simulation start, whole batches.
    pub warehouse_stock: i64,
}

/// One batch of one shelf's product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The product.
    pub shelf_id: String,
    /// `B` + 7-digit global counter.
    pub batch_code: String,
    /// When it arrived (relative to the simulation start, never the wall clock).
    pub received_date: NaiveDate,
    /// Best before.
    pub expiry_date: NaiveDate,
    /// Units left.
    pub quantity: i64,
    /// Store or warehouse.
    pub location: Location,
}

/// A weekly promotion: `discount_pct` off one product for the week starting `week_start`.
#[derive(Debug, Clone, PartialEq)]
pub struct WeeklyDiscount {
    /// 0-based week number from the first week.
    pub week_index: i64,
    /// A Monday.
    pub week_start: NaiveDate,
    /// The product.
    pub shelf_id: String,
    /// Fraction off, 0.05–0.35 (4 decimals).
    pub discount_pct: f64,
}

/// Everything a store starts from.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// The simulation start (day 0 of batch dates). 2026-01-01 by default.
    pub start_date: NaiveDate,
    /// Every product, in shelf_id order.
    pub shelves: Vec<Shelf>,
    /// Batches on the shelves; per shelf they sum to `store_stock`.
    pub store_batches: Vec<Batch>,
    /// Batches in the warehouse; per shelf they sum to `warehouse_stock`.
    pub warehouse_batches: Vec<Batch>,
    /// Weekly promotions.
    pub weekly_discounts: Vec<WeeklyDiscount>,
}
