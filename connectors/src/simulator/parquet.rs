//! The reference data and the history panel as Parquet files in one directory.
//!
//! | file | columns |
//! |---|---|
//! | `stores.parquet` | store_id, name, region, size_factor, opens, closes (`HH:00`) |
//! | `store_inventory.parquet` | store_id, shelf_id, aisle, item_category, item_subcategory, perishable, item_weight, shelf_weight, item_price, item_visibility, standard_batch_size, maximum_stock, current_stock |
//! | `warehouse_inventory.parquet` | store_id, shelf_id, aisle, item_category, item_subcategory, perishable, item_weight, item_price, standard_batch_size, maximum_stock, current_stock |
//! | `store_batches.parquet`, `warehouse_batches.parquet` | store_id, shelf_id, batch_code, item_category, item_subcategory, standard_batch_size, received_date, expiry_date, batch_quantity, location |
//! | `weekly_discounts.parquet` | week_index, week_start, week_end, shelf_id, discount_pct, original_price, discounted_price |
//! | `history.parquet` | store_id, feature_date, shelf_id, item_category, item_subcategory and the panel columns of [`HistoryRow`] |
//! | `reference.json` | `{"seed": 42, "start_date": "2026-01-01", "stores": 1}`: what produced the files |
//!
//! Every store of the chain has its rows in the per-store files; the weekly promotions are the
//! chain's (no `store_id`).
//!
//! Strings are Utf8, integers Int64, floats Float64, flags Boolean and dates Date.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use polars::prelude::{
    BooleanChunked, ChunkCompareEq, Column, DataFrame, DataType, Float64Chunked, Int32Chunked,
    Int64Chunked, IntoColumn, NewChunkedArray, ParquetReader, ParquetWriter, PlSmallStr, SerReader,
    SortMultipleOptions, StringChunked,
};
use serde::{Deserialize, Serialize};

use super::catalog::round_to;
use super::history::{History, HistoryRow};
use super::reference::{Batch, Location, Reference, Shelf, WeeklyDiscount};
use super::stores::{Store, StoreProfile};
use crate::ConnectorError;

/// Store inventory file.
pub const STORE_INVENTORY: &str = "store_inventory.parquet";
/// Warehouse inventory file.
pub const WAREHOUSE_INVENTORY: &str = "warehouse_inventory.parquet";
/// Store batches file.
pub const STORE_BATCHES: &str = "store_batches.parquet";
/// Warehouse batches file.
pub const WAREHOUSE_BATCHES: &str = "warehouse_batches.parquet";
/// Weekly promotions file.
pub const WEEKLY_DISCOUNTS: &str = "weekly_discounts.parquet";
/// The chain's stores.
pub const STORES: &str = "stores.parquet";
/// History panel file.
pub const HISTORY: &str = "history.parquet";
/// What produced the files.
pub const MANIFEST: &str = "reference.json";

/// What produced a directory of reference files (`reference.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Manifest {
    /// The generator's seed.
    pub seed: u64,
    /// The simulation start the batch dates are relative to.
    pub start_date: NaiveDate,
    /// Stores in the chain.
    pub stores: usize,
}

/// `reference.json` as stored.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    seed: u64,
    start_date: String,
    /// Absent in files written before the chain had more than one store.
    #[serde(default = "one")]
    stores: usize,
}

const fn one() -> usize {
    1
}

/// Writes the reference data of every store of the chain into `dir` (created if missing): the
/// store table, the five Parquet files (each row with its `store_id`, the weekly promotions once
/// for the chain) and `reference.json`.
pub fn write_chain(chain: &[Store], seed: u64, dir: &Path) -> Result<(), ConnectorError> {
    std::fs::create_dir_all(dir).map_err(|source| io(dir, source))?;
    let Some(first) = chain.first() else {
        return Err(schema(dir, "a chain has at least one store".to_owned()));
    };
    let path = dir.join(STORES);
    write(&path, stores(chain, &path)?)?;
    let per_store =
        |file: &str, build: &dyn Fn(&Store, &Path) -> Result<DataFrame, ConnectorError>| {
            let path = dir.join(file);
            let frames = chain.iter().map(|store| (store.profile.store_id, build(store, &path)));
            write(&path, stacked(&path, frames)?)
        };
    per_store(STORE_INVENTORY, &|store, path| store_inventory(&store.reference.shelves, path))?;
    per_store(WAREHOUSE_INVENTORY, &|store, path| {
        warehouse_inventory(&store.reference.shelves, path)
    })?;
    per_store(STORE_BATCHES, &|store, path| {
        batches(&store.reference.store_batches, &by_id(&store.reference), path)
    })?;
    per_store(WAREHOUSE_BATCHES, &|store, path| {
        batches(&store.reference.warehouse_batches, &by_id(&store.reference), path)
    })?;
    let path = dir.join(WEEKLY_DISCOUNTS);
    let reference = &first.reference;
    write(&path, weekly_discounts(&reference.weekly_discounts, &by_id(reference), &path)?)?;
    let manifest = Manifest { seed, start_date: reference.start_date, stores: chain.len() };
    write_manifest(dir, manifest)
}

/// The frames of the chain's stores as one, each row with its `store_id` first.
fn stacked(
    path: &Path,
    frames: impl IntoIterator<Item = (i64, Result<DataFrame, ConnectorError>)>,
) -> Result<DataFrame, ConnectorError> {
    let mut all: Option<DataFrame> = None;
    for (store_id, frame) in frames {
        let mut frame = frame?;
        let ids = ints("store_id", std::iter::repeat_n(store_id, frame.height()));
        frame.insert_column(0, ids).map_err(|err| format(path, err))?;
        match &mut all {
            None => all = Some(frame),
            Some(all) => {
                all.vstack_mut(&frame).map_err(|err| format(path, err))?;
            }
        }
    }
    all.ok_or_else(|| schema(path, "no store in the chain".to_owned()))
}

fn by_id(reference: &Reference) -> HashMap<&str, &Shelf> {
    reference.shelves.iter().map(|s| (s.shelf_id.as_str(), s)).collect()
}

/// Writes `reference.json`.
pub fn write_manifest(dir: &Path, manifest: Manifest) -> Result<(), ConnectorError> {
    let path = dir.join(MANIFEST);
    let file = ManifestFile {
        seed: manifest.seed,
        start_date: manifest.start_date.format("%Y-%m-%d").to_string(),
        stores: manifest.stores,
    };
    let text = serde_json::to_string_pretty(&file).map_err(|err| format(&path, err))?;
    std::fs::write(&path, text + "\n").map_err(|source| io(&path, source))
}

/// Reads `reference.json`.
pub fn read_manifest(dir: &Path) -> Result<Manifest, ConnectorError> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(|source| io(&path, source))?;
    let file: ManifestFile = serde_json::from_str(&text).map_err(|err| format(&path, err))?;
    let start_date = NaiveDate::parse_from_str(&file.start_date, "%Y-%m-%d").map_err(|_| {
        schema(&path, format!("start_date `{}` is not YYYY-MM-DD", file.start_date))
    })?;
    Ok(Manifest { seed: file.seed, start_date, stores: file.stores })
}

/// Reads the chain written by [`write_chain`], in `store_id` order; the round trip is exact.
pub fn read_chain(dir: &Path) -> Result<Vec<Store>, ConnectorError> {
    let manifest = read_manifest(dir)?;
    let profiles = read_stores(&Table::read(&dir.join(STORES))?)?;
    let store = Table::read(&dir.join(STORE_INVENTORY))?;
    let warehouse = Table::read(&dir.join(WAREHOUSE_INVENTORY))?;
    let store_batches = Table::read(&dir.join(STORE_BATCHES))?;
    let warehouse_batches = Table::read(&dir.join(WAREHOUSE_BATCHES))?;
    let weekly_discounts = read_weekly_discounts(&Table::read(&dir.join(WEEKLY_DISCOUNTS))?)?;
    profiles
        .into_iter()
        .map(|profile| {
            let id = profile.store_id;
            let mut shelves = read_store_inventory(&store.of_store(id)?)?;
            if shelves.is_empty() {
                return Err(store.error(format!("no shelves of store {id}")));
            }
            read_warehouse_inventory(&warehouse.of_store(id)?, &mut shelves)?;
            let reference = Reference {
                start_date: manifest.start_date,
                shelves,
                store_batches: read_batches(&store_batches.of_store(id)?, Location::Store)?,
                warehouse_batches: read_batches(
                    &warehouse_batches.of_store(id)?,
                    Location::Warehouse,
                )?,
                weekly_discounts: weekly_discounts.clone(),
            };
            Ok(Store { profile, reference })
        })
        .collect()
}

/// Reads the chain's stores (`stores.parquet`), in `store_id` order.
pub fn read_store_profiles(dir: &Path) -> Result<Vec<StoreProfile>, ConnectorError> {
    read_stores(&Table::read(&dir.join(STORES))?)
}

fn stores(chain: &[Store], path: &Path) -> Result<DataFrame, ConnectorError> {
    let profiles = || chain.iter().map(|s| &s.profile);
    let columns = vec![
        ints("store_id", profiles().map(|p| p.store_id)),
        strings("name", profiles().map(|p| p.name.as_str())),
        strings("region", profiles().map(|p| p.region.as_str())),
        floats("size_factor", profiles().map(|p| p.size_factor)),
        StringChunked::from_iter_values(
            "opens".into(),
            profiles().map(|p| StoreProfile::hour_text(p.opens_hour)),
        )
        .into_column(),
        StringChunked::from_iter_values(
            "closes".into(),
            profiles().map(|p| StoreProfile::hour_text(p.closes_hour)),
        )
        .into_column(),
    ];
    frame(path, chain.len(), columns)
}

fn read_stores(table: &Table) -> Result<Vec<StoreProfile>, ConnectorError> {
    let ids = table.ints("store_id")?;
    let names = table.strings("name")?;
    let regions = table.strings("region")?;
    let sizes = table.floats("size_factor")?;
    let hour = |name: &str| -> Result<Vec<i64>, ConnectorError> {
        table
            .strings(name)?
            .iter()
            .map(|text| {
                text.strip_suffix(":00")
                    .and_then(|h| h.parse::<i64>().ok())
                    .filter(|h| (0..=24).contains(h))
                    .ok_or_else(|| {
                        table.error(format!("`{name}` {text:?} is not a whole hour HH:00"))
                    })
            })
            .collect()
    };
    let (opens, closes) = (hour("opens")?, hour("closes")?);
    let mut profiles = Vec::with_capacity(ids.len());
    for (i, store_id) in ids.into_iter().enumerate() {
        if opens[i] >= closes[i] || !(sizes[i].is_finite() && sizes[i] > 0.0) {
            return Err(table.error(format!("store {store_id}: bad opening hours or size factor")));
        }
        profiles.push(StoreProfile {
            store_id,
            name: names[i].clone(),
            region: regions[i].clone(),
            size_factor: sizes[i],
            opens_hour: opens[i],
            closes_hour: closes[i],
        });
    }
    profiles.sort_by_key(|p| p.store_id);
    if profiles.windows(2).any(|w| w[0].store_id == w[1].store_id) || profiles.is_empty() {
        return Err(table.error("store ids must be unique, and one store at least".to_owned()));
    }
    Ok(profiles)
}

/// Writes the history panels of the chain's stores, `(store_id, panel)`, as `history.parquet` in
/// `dir` (created if missing), day by day and store by store.
pub fn write_history(histories: &[(i64, History)], dir: &Path) -> Result<(), ConnectorError> {
    std::fs::create_dir_all(dir).map_err(|source| io(dir, source))?;
    let path = dir.join(HISTORY);
    let frames =
        histories.iter().map(|(store_id, history)| (*store_id, history_frame(history, &path)));
    let stacked = stacked(&path, frames)?;
    // Day by day, then store by store (a stream of the history reads it in event-time order).
    let by = SortMultipleOptions::default().with_maintain_order(true);
    let sorted = stacked.sort(["feature_date", "store_id"], by).map_err(|e| format(&path, e))?;
    write(&path, sorted)
}

/// The panel of one store.
fn history_frame(history: &History, path: &Path) -> Result<DataFrame, ConnectorError> {
    let rows = &history.rows;
    if let Some(row) = rows.iter().find(|r| r.shelf >= history.shelves.len()) {
        return Err(schema(path, format!("row of {} refers to no shelf", row.feature_date)));
    }
    let shelf = |r: &HistoryRow| &history.shelves[r.shelf];
    let int = |name: &str, f: fn(&HistoryRow) -> i64| ints(name, rows.iter().map(f));
    let float = |name: &str, f: fn(&HistoryRow) -> f64| floats(name, rows.iter().map(f));
    let flag = |name: &str, f: fn(&HistoryRow) -> bool| bools(name, rows.iter().map(f));
    let columns = vec![
        dates("feature_date", rows.iter().map(|r| r.feature_date)),
        strings("shelf_id", rows.iter().map(|r| shelf(r).shelf_id.as_str())),
        strings("item_category", rows.iter().map(|r| shelf(r).item_category.as_str())),
        strings("item_subcategory", rows.iter().map(|r| shelf(r).item_subcategory.as_str())),
        int("day_of_week", |r| r.day_of_week),
        flag("is_weekend", |r| r.is_weekend),
        flag("refill_day", |r| r.refill_day),
        flag("warehouse_inbound_day", |r| r.warehouse_inbound_day),
        floats("item_price", rows.iter().map(|r| shelf(r).item_price)),
        float("discount", |r| r.discount),
        flag("is_discounted", |r| r.is_discounted),
        flag("is_discounted_next_7d", |r| r.is_discounted_next_7d),
        int("people_count", |r| r.people_count),
        int("sales_qty", |r| r.sales_qty),
        int("sales_last_1d", |r| r.sales_last_1d),
        int("sales_last_7d", |r| r.sales_last_7d),
        int("sales_last_14d", |r| r.sales_last_14d),
        int("stockout_events", |r| r.stockout_events),
        BooleanChunked::from_iter_options(
            "label_next_day_stockout".into(),
            rows.iter().map(|r| r.label_next_day_stockout),
        )
        .into_column(),
        int("shelf_capacity", |r| r.shelf_capacity),
        int("current_stock_shelf", |r| r.current_stock_shelf),
        float("shelf_fill_ratio", |r| r.shelf_fill_ratio),
        int("shelf_threshold_qty", |r| r.shelf_threshold_qty),
        int("expired_qty_shelf", |r| r.expired_qty_shelf),
        int("expired_qty_wh", |r| r.expired_qty_wh),
        int("alerts_last_30d_shelf", |r| r.alerts_last_30d_shelf),
        int("alerts_last_30d_wh", |r| r.alerts_last_30d_wh),
        flag("is_shelf_alert", |r| r.is_shelf_alert),
        flag("is_warehouse_alert", |r| r.is_warehouse_alert),
        int("warehouse_capacity", |r| r.warehouse_capacity),
        int("current_stock_warehouse", |r| r.current_stock_warehouse),
        float("warehouse_fill_ratio", |r| r.warehouse_fill_ratio),
        int("wh_reorder_point_qty", |r| r.wh_reorder_point_qty),
        int("pending_supplier_qty", |r| r.pending_supplier_qty),
        int("moved_wh_to_shelf", |r| r.moved_wh_to_shelf),
        int("standard_batch_size", |r| r.standard_batch_size),
        int("min_expiration_days", |r| r.min_expiration_days),
        float("avg_expiration_days", |r| r.avg_expiration_days),
        int("qty_expiring_next_7d", |r| r.qty_expiring_next_7d),
        int("batches_to_order", |r| r.batches_to_order),
    ];
    frame(path, rows.len(), columns)
}

fn store_inventory(shelves: &[Shelf], path: &Path) -> Result<DataFrame, ConnectorError> {
    let int = |name: &str, f: fn(&Shelf) -> i64| ints(name, shelves.iter().map(f));
    let columns = vec![
        strings("shelf_id", shelves.iter().map(|s| s.shelf_id.as_str())),
        int("aisle", |s| s.aisle),
        strings("item_category", shelves.iter().map(|s| s.item_category.as_str())),
        strings("item_subcategory", shelves.iter().map(|s| s.item_subcategory.as_str())),
        bools("perishable", shelves.iter().map(|s| s.perishable)),
        int("item_weight", |s| s.item_weight),
        int("shelf_weight", |s| s.item_weight * s.store_capacity),
        floats("item_price", shelves.iter().map(|s| s.item_price)),
        floats("item_visibility", shelves.iter().map(|s| s.item_visibility)),
        int("standard_batch_size", |s| s.standard_batch_size),
        int("maximum_stock", |s| s.store_capacity),
        int("current_stock", |s| s.store_stock),
    ];
    frame(path, shelves.len(), columns)
}

fn warehouse_inventory(shelves: &[Shelf], path: &Path) -> Result<DataFrame, ConnectorError> {
    let int = |name: &str, f: fn(&Shelf) -> i64| ints(name, shelves.iter().map(f));
    let columns = vec![
        strings("shelf_id", shelves.iter().map(|s| s.shelf_id.as_str())),
        int("aisle", |s| s.aisle),
        strings("item_category", shelves.iter().map(|s| s.item_category.as_str())),
        strings("item_subcategory", shelves.iter().map(|s| s.item_subcategory.as_str())),
        bools("perishable", shelves.iter().map(|s| s.perishable)),
        int("item_weight", |s| s.item_weight),
        floats("item_price", shelves.iter().map(|s| s.item_price)),
        int("standard_batch_size", |s| s.standard_batch_size),
        int("maximum_stock", |s| s.warehouse_capacity),
        int("current_stock", |s| s.warehouse_stock),
    ];
    frame(path, shelves.len(), columns)
}

fn batches(
    batches: &[Batch],
    shelves: &HashMap<&str, &Shelf>,
    path: &Path,
) -> Result<DataFrame, ConnectorError> {
    let of = lookup(batches.iter().map(|b| b.shelf_id.as_str()), shelves, path)?;
    let columns = vec![
        strings("shelf_id", batches.iter().map(|b| b.shelf_id.as_str())),
        strings("batch_code", batches.iter().map(|b| b.batch_code.as_str())),
        strings("item_category", of.iter().map(|s| s.item_category.as_str())),
        strings("item_subcategory", of.iter().map(|s| s.item_subcategory.as_str())),
        ints("standard_batch_size", of.iter().map(|s| s.standard_batch_size)),
        dates("received_date", batches.iter().map(|b| b.received_date)),
        dates("expiry_date", batches.iter().map(|b| b.expiry_date)),
        ints("batch_quantity", batches.iter().map(|b| b.quantity)),
        strings("location", batches.iter().map(|b| b.location.as_str())),
    ];
    frame(path, batches.len(), columns)
}

fn weekly_discounts(
    discounts: &[WeeklyDiscount],
    shelves: &HashMap<&str, &Shelf>,
    path: &Path,
) -> Result<DataFrame, ConnectorError> {
    let of = lookup(discounts.iter().map(|d| d.shelf_id.as_str()), shelves, path)?;
    let prices = || of.iter().map(|s| s.item_price);
    let columns = vec![
        ints("week_index", discounts.iter().map(|d| d.week_index)),
        dates("week_start", discounts.iter().map(|d| d.week_start)),
        dates("week_end", discounts.iter().map(|d| d.week_start + chrono::Days::new(6))),
        strings("shelf_id", discounts.iter().map(|d| d.shelf_id.as_str())),
        floats("discount_pct", discounts.iter().map(|d| d.discount_pct)),
        floats("original_price", prices()),
        floats(
            "discounted_price",
            prices().zip(discounts).map(|(p, d)| round_to(p * (1.0 - d.discount_pct), 2)),
        ),
    ];
    frame(path, discounts.len(), columns)
}

/// The shelf of every id, or an error naming the first unknown one.
fn lookup<'a>(
    ids: impl Iterator<Item = &'a str>,
    shelves: &HashMap<&str, &'a Shelf>,
    path: &Path,
) -> Result<Vec<&'a Shelf>, ConnectorError> {
    ids.map(|id| {
        shelves.get(id).copied().ok_or_else(|| schema(path, format!("unknown shelf `{id}`")))
    })
    .collect()
}

fn read_store_inventory(table: &Table) -> Result<Vec<Shelf>, ConnectorError> {
    let shelf_id = table.strings("shelf_id")?;
    let aisle = table.ints("aisle")?;
    let category = table.strings("item_category")?;
    let subcategory = table.strings("item_subcategory")?;
    let perishable = table.bools("perishable")?;
    let weight = table.ints("item_weight")?;
    let price = table.floats("item_price")?;
    let visibility = table.floats("item_visibility")?;
    let batch_size = table.ints("standard_batch_size")?;
    let maximum = table.ints("maximum_stock")?;
    let current = table.ints("current_stock")?;
    let mut shelves = Vec::with_capacity(shelf_id.len());
    for (i, shelf_id) in shelf_id.into_iter().enumerate() {
        shelves.push(Shelf {
            shelf_id,
            aisle: aisle[i],
            item_category: category[i].clone(),
            item_subcategory: subcategory[i].clone(),
            perishable: perishable[i],
            item_weight: weight[i],
            item_price: price[i],
            item_visibility: visibility[i],
            standard_batch_size: batch_size[i],
            store_capacity: maximum[i],
            store_stock: current[i],
            warehouse_capacity: 0,
            warehouse_stock: 0,
        });
    }
    Ok(shelves)
}

/// Sets the warehouse figures of `shelves`; every shelf must have exactly one row.
fn read_warehouse_inventory(table: &Table, shelves: &mut [Shelf]) -> Result<(), ConnectorError> {
    let shelf_id = table.strings("shelf_id")?;
    let maximum = table.ints("maximum_stock")?;
    let current = table.ints("current_stock")?;
    let index: HashMap<&str, usize> =
        shelves.iter().enumerate().map(|(i, s)| (s.shelf_id.as_str(), i)).collect();
    let mut found = vec![None; shelves.len()];
    for (row, id) in shelf_id.iter().enumerate() {
        let Some(&s) = index.get(id.as_str()) else {
            return Err(table.error(format!("shelf `{id}` is not in the store inventory")));
        };
        if found[s].replace(row).is_some() {
            return Err(table.error(format!("shelf `{id}` appears twice")));
        }
    }
    for (shelf, row) in shelves.iter_mut().zip(found) {
        let Some(row) = row else {
            return Err(table.error(format!("no row for shelf `{}`", shelf.shelf_id)));
        };
        shelf.warehouse_capacity = maximum[row];
        shelf.warehouse_stock = current[row];
    }
    Ok(())
}

fn read_batches(table: &Table, location: Location) -> Result<Vec<Batch>, ConnectorError> {
    let shelf_id = table.strings("shelf_id")?;
    let code = table.strings("batch_code")?;
    let received = table.dates("received_date")?;
    let expiry = table.dates("expiry_date")?;
    let quantity = table.ints("batch_quantity")?;
    let locations = table.strings("location")?;
    let mut batches = Vec::with_capacity(shelf_id.len());
    for (i, (shelf_id, batch_code)) in shelf_id.into_iter().zip(code).enumerate() {
        if locations[i] != location.as_str() {
            let message = format!("location `{}`, expected `{}`", locations[i], location.as_str());
            return Err(table.error(message));
        }
        batches.push(Batch {
            shelf_id,
            batch_code,
            received_date: received[i],
            expiry_date: expiry[i],
            quantity: quantity[i],
            location,
        });
    }
    Ok(batches)
}

fn read_weekly_discounts(table: &Table) -> Result<Vec<WeeklyDiscount>, ConnectorError> {
    let week_index = table.ints("week_index")?;
    let week_start = table.dates("week_start")?;
    let shelf_id = table.strings("shelf_id")?;
    let pct = table.floats("discount_pct")?;
    Ok(shelf_id
        .into_iter()
        .enumerate()
        .map(|(i, shelf_id)| WeeklyDiscount {
            week_index: week_index[i],
            week_start: week_start[i],
            shelf_id,
            discount_pct: pct[i],
        })
        .collect())
}

/// A Parquet file read whole, with typed column accessors that reject nulls and other types.
struct Table {
    path: PathBuf,
    frame: DataFrame,
}

impl Table {
    fn read(path: &Path) -> Result<Table, ConnectorError> {
        let file = File::open(path).map_err(|source| io(path, source))?;
        let frame = ParquetReader::new(file).finish().map_err(|err| format(path, err))?;
        Ok(Table { path: path.to_owned(), frame })
    }

    fn error(&self, message: String) -> ConnectorError {
        schema(&self.path, message)
    }

    /// The rows of one store.
    fn of_store(&self, store_id: i64) -> Result<Table, ConnectorError> {
        let column = self.column("store_id", &DataType::Int64)?;
        let ids = column.i64().map_err(|err| format(&self.path, err))?;
        let frame = self.frame.filter(&ids.equal(store_id)).map_err(|e| format(&self.path, e))?;
        Ok(Table { path: self.path.clone(), frame })
    }

    /// The column `name` if it has type `dtype`.
    fn column(&self, name: &str, dtype: &DataType) -> Result<&Column, ConnectorError> {
        let column =
            self.frame.column(name).map_err(|_| self.error(format!("no column `{name}`")))?;
        if column.dtype() != dtype {
            let found = column.dtype();
            return Err(self.error(format!("column `{name}` is {found}, expected {dtype}")));
        }
        if column.null_count() > 0 {
            return Err(self.error(format!("column `{name}` has nulls")));
        }
        Ok(column)
    }

    fn typed<T>(&self, name: &str, values: Option<Vec<T>>) -> Result<Vec<T>, ConnectorError> {
        values.ok_or_else(|| self.error(format!("column `{name}` cannot be read")))
    }

    fn strings(&self, name: &str) -> Result<Vec<String>, ConnectorError> {
        let column = self.column(name, &DataType::String)?;
        let values = column.str().ok().map(|c| c.iter().flatten().map(str::to_owned).collect());
        self.typed(name, values)
    }

    fn ints(&self, name: &str) -> Result<Vec<i64>, ConnectorError> {
        let column = self.column(name, &DataType::Int64)?;
        self.typed(name, column.i64().ok().map(|c| c.iter().flatten().collect()))
    }

    fn floats(&self, name: &str) -> Result<Vec<f64>, ConnectorError> {
        let column = self.column(name, &DataType::Float64)?;
        self.typed(name, column.f64().ok().map(|c| c.iter().flatten().collect()))
    }

    fn bools(&self, name: &str) -> Result<Vec<bool>, ConnectorError> {
        let column = self.column(name, &DataType::Boolean)?;
        self.typed(name, column.bool().ok().map(|c| c.iter().flatten().collect()))
    }

    fn dates(&self, name: &str) -> Result<Vec<NaiveDate>, ConnectorError> {
        let column = self.column(name, &DataType::Date)?;
        let days = column.date().ok().map(|c| c.physical().iter().flatten().collect::<Vec<_>>());
        let days = self.typed(name, days)?;
        days.into_iter()
            .map(|d| {
                from_epoch_days(d).ok_or_else(|| self.error(format!("column `{name}`: bad date")))
            })
            .collect()
    }
}

/// Days from 0001-01-01 (day 1 of the common era) to 1970-01-01.
const EPOCH_DAYS_FROM_CE: i32 = 719_163;

fn epoch_days(date: NaiveDate) -> i32 {
    use chrono::Datelike;
    date.num_days_from_ce() - EPOCH_DAYS_FROM_CE
}

fn from_epoch_days(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days.checked_add(EPOCH_DAYS_FROM_CE)?)
}

fn strings<'a>(name: &str, values: impl Iterator<Item = &'a str>) -> Column {
    StringChunked::from_iter_values(PlSmallStr::from(name), values).into_column()
}

fn ints(name: &str, values: impl Iterator<Item = i64>) -> Column {
    Int64Chunked::from_iter_values(PlSmallStr::from(name), values).into_column()
}

fn floats(name: &str, values: impl Iterator<Item = f64>) -> Column {
    Float64Chunked::from_iter_values(PlSmallStr::from(name), values).into_column()
}

fn bools(name: &str, values: impl Iterator<Item = bool>) -> Column {
    BooleanChunked::from_iter_values(PlSmallStr::from(name), values).into_column()
}

fn dates(name: &str, values: impl Iterator<Item = NaiveDate>) -> Column {
    Int32Chunked::from_iter_values(PlSmallStr::from(name), values.map(epoch_days))
        .into_date()
        .into_column()
}

/// A frame of equally long columns, for the file at `path`.
fn frame(path: &Path, height: usize, columns: Vec<Column>) -> Result<DataFrame, ConnectorError> {
    DataFrame::new(height, columns).map_err(|err| format(path, err))
}

/// Writes `frame` as a Parquet file.
fn write(path: &Path, mut frame: DataFrame) -> Result<(), ConnectorError> {
    let mut file = File::create(path).map_err(|source| io(path, source))?;
    ParquetWriter::new(&mut file).finish(&mut frame).map_err(|err| format(path, err))?;
    Ok(())
}

fn io(path: &Path, source: std::io::Error) -> ConnectorError {
    ConnectorError::Io { path: path.to_owned(), source }
}

fn format(path: &Path, err: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Format { path: path.to_owned(), message: err.to_string() }
}

fn schema(path: &Path, message: String) -> ConnectorError {
    ConnectorError::Schema { path: path.to_owned(), message }
}

#[cfg(test)]
mod tests {
    use super::super::generate::generate;
    use super::super::history::{simulate_history, HistoryPolicy};
    use super::*;

    fn reference() -> Reference {
        generate(42, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(), &mut |_| {})
    }

    fn one_store(reference: Reference) -> Vec<Store> {
        vec![Store { profile: super::super::stores::profiles(42, 1).remove(0), reference }]
    }

    fn write_reference(reference: &Reference, seed: u64, dir: &Path) -> Result<(), ConnectorError> {
        write_chain(&one_store(reference.clone()), seed, dir)
    }

    fn read_reference(dir: &Path) -> Result<Reference, ConnectorError> {
        Ok(read_chain(dir)?.remove(0).reference)
    }

    #[test]
    fn a_chain_round_trips_store_by_store() {
        let dir = tempfile::tempdir().unwrap();
        let profiles = super::super::stores::profiles(42, 3);
        let start = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let chain = super::super::generate::generate_chain(42, start, &profiles, &mut |_| {});
        write_chain(&chain, 42, dir.path()).unwrap();
        assert_eq!(read_chain(dir.path()).unwrap(), chain);
        assert_eq!(read_manifest(dir.path()).unwrap().stores, 3);
        assert_eq!(chain[0].reference, reference(), "store 1 is the one-store reference");
        let ids: Vec<_> = chain[1].reference.shelves.iter().map(|s| &s.shelf_id).collect();
        let first: Vec<_> = chain[0].reference.shelves.iter().map(|s| &s.shelf_id).collect();
        assert_eq!(ids, first, "one catalog for the chain");
        assert_ne!(chain[1].reference.shelves, chain[0].reference.shelves, "stock per store");
        assert_eq!(chain[1].reference.weekly_discounts, chain[0].reference.weekly_discounts);
        let table = Table::read(&dir.path().join(STORE_INVENTORY)).unwrap();
        assert_eq!(table.frame.get_column_names()[0].as_str(), "store_id");
        let mut stored: Vec<i64> = table.ints("store_id").unwrap();
        stored.dedup();
        assert_eq!(stored, [1, 2, 3]);
    }

    #[test]
    fn the_reference_round_trips_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let reference = reference();
        write_reference(&reference, 42, dir.path()).unwrap();
        assert_eq!(read_reference(dir.path()).unwrap(), reference);
        let manifest = read_manifest(dir.path()).unwrap();
        assert_eq!(manifest, Manifest { seed: 42, start_date: reference.start_date, stores: 1 });
        let json = std::fs::read_to_string(dir.path().join(MANIFEST)).unwrap();
        assert!(json.contains("\"start_date\": \"2026-01-01\""), "{json}");
    }

    #[test]
    fn files_have_the_documented_columns_and_types() {
        let dir = tempfile::tempdir().unwrap();
        write_reference(&reference(), 42, dir.path()).unwrap();
        let store = Table::read(&dir.path().join(STORE_INVENTORY)).unwrap();
        let names: Vec<_> = store.frame.get_column_names().iter().map(|n| n.to_string()).collect();
        assert_eq!(
            names,
            [
                "store_id",
                "shelf_id",
                "aisle",
                "item_category",
                "item_subcategory",
                "perishable",
                "item_weight",
                "shelf_weight",
                "item_price",
                "item_visibility",
                "standard_batch_size",
                "maximum_stock",
                "current_stock",
            ]
        );
        let weight = store.ints("item_weight").unwrap();
        let maximum = store.ints("maximum_stock").unwrap();
        let shelf_weight = store.ints("shelf_weight").unwrap();
        assert!((0..weight.len()).all(|i| shelf_weight[i] == weight[i] * maximum[i]));
        let discounts = Table::read(&dir.path().join(WEEKLY_DISCOUNTS)).unwrap();
        assert_eq!(discounts.frame.height(), 9360);
        let start = discounts.dates("week_start").unwrap();
        let end = discounts.dates("week_end").unwrap();
        assert!(start.iter().zip(&end).all(|(s, e)| (*e - *s).num_days() == 6));
        let batches = Table::read(&dir.path().join(STORE_BATCHES)).unwrap();
        assert!(batches.strings("location").unwrap().iter().all(|l| l == "in-store"));
        assert!(batches.column("expiry_date", &DataType::Date).is_ok());
    }

    #[test]
    fn bad_files_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(read_reference(dir.path()), Err(ConnectorError::Io { .. })));
        write_reference(&reference(), 42, dir.path()).unwrap();
        // A file with the wrong columns.
        std::fs::copy(dir.path().join(STORE_BATCHES), dir.path().join(STORE_INVENTORY)).unwrap();
        assert!(matches!(read_reference(dir.path()), Err(ConnectorError::Schema { .. })));
        std::fs::write(dir.path().join(STORE_INVENTORY), b"not parquet").unwrap();
        assert!(matches!(read_reference(dir.path()), Err(ConnectorError::Format { .. })));
    }

    #[test]
    fn the_history_is_written_with_its_columns() {
        let dir = tempfile::tempdir().unwrap();
        let reference = reference();
        let policy = HistoryPolicy { days: 14, ..HistoryPolicy::default() };
        let history = simulate_history(&reference, 42, &policy, &mut |_| {});
        write_history(&[(1, history.clone())], dir.path()).unwrap();
        let table = Table::read(&dir.path().join(HISTORY)).unwrap();
        assert_eq!(table.frame.height(), 14 * 1142);
        assert_eq!(table.frame.width(), 41);
        // Two stores: day by day, then store by store, so a stream reads it in time order.
        let two = tempfile::tempdir().unwrap();
        write_history(&[(1, history.clone()), (2, history)], two.path()).unwrap();
        let both = Table::read(&two.path().join(HISTORY)).unwrap();
        let (stores, dates) = (both.ints("store_id").unwrap(), both.dates("feature_date").unwrap());
        assert!(dates.windows(2).all(|d| d[0] <= d[1]), "sorted by date");
        assert_eq!((stores[0], stores[1142], stores[2 * 1142]), (1, 2, 1));
        let dates = table.dates("feature_date").unwrap();
        assert_eq!(dates[0], NaiveDate::from_ymd_opt(2025, 12, 18).unwrap());
        assert_eq!(table.ints("sales_qty").unwrap().len(), 14 * 1142);
        let labels = table.frame.column("label_next_day_stockout").unwrap();
        assert_eq!(labels.null_count(), 1142);
    }

    /// Full generation in one go, timed, with the figures to compare with the domain's.
    /// `cargo test --release -p shelfflow-connectors --lib simulator:: -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn full_generation_is_fast() {
        let dir = tempfile::tempdir().unwrap();
        let start = std::time::Instant::now();
        let reference = reference();
        let generated = start.elapsed();
        let history = simulate_history(&reference, 42, &HistoryPolicy::default(), &mut |_| {});
        let simulated = start.elapsed();
        write_reference(&reference, 42, dir.path()).unwrap();
        write_history(&[(1, history.clone())], dir.path()).unwrap();
        let written = start.elapsed();
        println!(
            "reference {generated:?}, history {:?}, parquet {:?}, total {written:?}",
            simulated - generated,
            written - simulated
        );
        let shelves = &reference.shelves;
        let mean =
            |f: fn(&Shelf) -> i64| shelves.iter().map(f).sum::<i64>() as f64 / shelves.len() as f64;
        println!(
            "store batches {}, warehouse batches {}, means: batch {:.1}, shelf max {:.2}, \
             shelf stock {:.2}, wh max {:.2}, wh stock {:.2}",
            reference.store_batches.len(),
            reference.warehouse_batches.len(),
            mean(|s| s.standard_batch_size),
            mean(|s| s.store_capacity),
            mean(|s| s.store_stock),
            mean(|s| s.warehouse_capacity),
            mean(|s| s.warehouse_stock),
        );
        let rows = &history.rows;
        let rate = |f: fn(&HistoryRow) -> bool| {
            100.0 * rows.iter().filter(|r| f(r)).count() as f64 / rows.len() as f64
        };
        let mut orders = std::collections::BTreeMap::<i64, usize>::new();
        for r in rows {
            *orders.entry(r.batches_to_order).or_default() += 1;
        }
        let perishable_sold: i64 =
            rows.iter().filter(|r| history.shelf(r).perishable).map(|r| r.sales_qty).sum();
        println!(
            "rows {}, units sold {}, perishable sold {perishable_sold}, people mean {:.0}",
            rows.len(),
            rows.iter().map(|r| r.sales_qty).sum::<i64>(),
            rows.iter().map(|r| r.people_count).sum::<i64>() as f64 / rows.len() as f64,
        );
        println!(
            "rates %: shelf alert {:.1}, wh alert {:.1}, refill {:.1}, stockout {:.1}, \
             expired shelf units {}, expired wh units {}",
            rate(|r| r.is_shelf_alert),
            rate(|r| r.is_warehouse_alert),
            rate(|r| r.refill_day),
            rate(|r| r.stockout_events > 0),
            rows.iter().map(|r| r.expired_qty_shelf).sum::<i64>(),
            rows.iter().map(|r| r.expired_qty_wh).sum::<i64>(),
        );
        println!("batches_to_order: {orders:?}");
        assert!(written < std::time::Duration::from_secs(10));
    }
}
