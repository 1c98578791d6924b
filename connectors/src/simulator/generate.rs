//! Draws the reference data of a chain of stores from a seed (domain §1.3–1.6): store and warehouse
//! inventory, their batches and the weekly promotions.
//!
//! Every date is relative to the simulation start, never the wall clock, so a seed and a start
//! date give the same [`Reference`] on any machine and on any day. Each stage draws from its own
//! ChaCha8 stream of the seed, so changing how one stage draws leaves the others unchanged.

use chrono::{Datelike, Months, NaiveDate, TimeDelta};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::catalog::{self, round_to, Product, Subcategory, WarehouseRule};
use super::reference::{Batch, Location, Reference, Shelf, WeeklyDiscount};
use super::stores::{self, scaled, Store, StoreProfile};

/// Weeks of weekly promotions (three years of 52 weeks).
pub const DISCOUNT_WEEKS: i64 = 156;
/// Products on promotion each week.
pub const DISCOUNTS_PER_WEEK: usize = 60;
/// Weekly promotion depth, `U(lo, hi)`, rounded to 4 decimals.
pub const DISCOUNT_RANGE: (f64, f64) = (0.05, 0.35);

/// The independent random streams of one seed, one per stage.
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
pub(crate) enum Stage {
    Catalog = 1,
    StoreInventory = 2,
    WarehouseInventory = 3,
    Batches = 4,
    Discounts = 5,
    History = 6,
    Stores = 7,
}

/// The random stream of `stage` for `seed`.
pub(crate) fn stage_rng(seed: u64, stage: Stage) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stage as u64);
    rng
}

/// `date` moved by `days`, saturating at the ends of the calendar.
pub(crate) fn shift(date: NaiveDate, days: i64) -> NaiveDate {
    date.checked_add_signed(TimeDelta::days(days)).unwrap_or(if days < 0 {
        NaiveDate::MIN
    } else {
        NaiveDate::MAX
    })
}

/// The Monday on or before `date`.
pub fn monday_on_or_before(date: NaiveDate) -> NaiveDate {
    shift(date, -i64::from(date.weekday().num_days_from_monday()))
}

/// The first promotion week: the Monday on or before one year before `start_date` (2024-12-30
/// for a start on 2026-01-01), so the promotions cover the history year too.
pub fn first_discount_week(start_date: NaiveDate) -> NaiveDate {
    let year_before = start_date.checked_sub_months(Months::new(12)).unwrap_or(start_date);
    monday_on_or_before(year_before)
}

/// Draws the reference data of one store (store 1 of the chain). The same `seed` and
/// `start_date` give the same [`Reference`]. `progress` receives one short line per stage.
pub fn generate(seed: u64, start_date: NaiveDate, progress: &mut dyn FnMut(&str)) -> Reference {
    let store = &stores::profiles(seed, 1)[0];
    generate_chain(seed, start_date, std::slice::from_ref(store), progress).remove(0).reference
}

/// Draws the reference data of every store of a chain: one catalog and one set of weekly
/// promotions for the chain, and per store its stock and batches from its own seed, scaled by its
/// size factor (see [`stores`]).
pub fn generate_chain(
    seed: u64,
    start_date: NaiveDate,
    profiles: &[StoreProfile],
    progress: &mut dyn FnMut(&str),
) -> Vec<Store> {
    // The table is embedded at build time and checked by a unit test: failing here is a build
    // defect, not bad input.
    let subcategories =
        catalog::subcategories().expect("the embedded catalog-params.tsv is valid (unit-tested)");
    let products = catalog::products(&subcategories, &mut stage_rng(seed, Stage::Catalog));
    progress(&format!(
        "catalog: {} products in {} subcategories",
        products.len(),
        subcategories.len()
    ));
    let mut weekly = None;
    profiles
        .iter()
        .map(|profile| {
            let store_seed = stores::store_seed(seed, profile.store_id);
            let draw = Draw { seed: store_seed, size: profile.size_factor, start_date };
            let mut reference = draw.reference(&subcategories, &products, progress);
            let discounts = weekly
                .get_or_insert_with(|| weekly_discounts(&reference.shelves, start_date, seed));
            reference.weekly_discounts = discounts.clone();
            progress(&format!("store {}: {} weekly discounts", profile.store_id, discounts.len()));
            Store { profile: profile.clone(), reference }
        })
        .collect()
}

/// [`generate`] from a given subcategory table.
pub fn generate_from(
    subcategories: &[Subcategory],
    seed: u64,
    start_date: NaiveDate,
    progress: &mut dyn FnMut(&str),
) -> Reference {
    let products = catalog::products(subcategories, &mut stage_rng(seed, Stage::Catalog));
    let draw = Draw { seed, size: 1.0, start_date };
    let mut reference = draw.reference(subcategories, &products, progress);
    reference.weekly_discounts = weekly_discounts(&reference.shelves, start_date, seed);
    progress(&format!("weekly discounts: {} rows", reference.weekly_discounts.len()));
    reference
}

/// The draws of one store: its seed and size factor.
struct Draw {
    seed: u64,
    size: f64,
    start_date: NaiveDate,
}

impl Draw {
    /// The store's inventory and batches; the weekly promotions are the chain's, left empty.
    fn reference(
        &self,
        subcategories: &[Subcategory],
        products: &[Product],
        progress: &mut dyn FnMut(&str),
    ) -> Reference {
        let (seed, start_date) = (self.seed, self.start_date);
        let mut shelves = store_inventory(subcategories, products, seed, self.size);
        warehouse_inventory(subcategories, products, &mut shelves, seed, self.size);
        let store: i64 = shelves.iter().map(|s| s.store_stock).sum();
        let warehouse: i64 = shelves.iter().map(|s| s.warehouse_stock).sum();
        progress(&format!("inventory: {store} units in store, {warehouse} in the warehouse"));

        let mut rng = stage_rng(seed, Stage::Batches);
        let mut counter = 0;
        let store_batches = batches(&shelves, Location::Store, start_date, &mut counter, &mut rng);
        let warehouse_batches =
            batches(&shelves, Location::Warehouse, start_date, &mut counter, &mut rng);
        progress(&format!(
            "batches: {} in store, {} in the warehouse",
            store_batches.len(),
            warehouse_batches.len()
        ));
        Reference {
            start_date,
            shelves,
            store_batches,
            warehouse_batches,
            weekly_discounts: vec![],
        }
    }
}

/// The shelves with their store stock (§1.3); warehouse figures are filled in later.
fn store_inventory(
    subcategories: &[Subcategory],
    products: &[Product],
    seed: u64,
    size: f64,
) -> Vec<Shelf> {
    let mut rng = stage_rng(seed, Stage::StoreInventory);
    products
        .iter()
        .map(|product| {
            let sub = &subcategories[product.subcategory];
            let bs = product.standard_batch_size;
            let store_capacity = scaled(rng.random_range(sub.store_max.clone()), size).max(bs);
            let store_stock = if sub.perishable {
                let share = rng.random_range(0.35..0.95);
                ((store_capacity as f64 * share) as i64).max(1)
            } else {
                let share = rng.random_range(0.7..1.0);
                match (store_capacity as f64 * share) as i64 {
                    0 => bs.min(store_capacity),
                    stock => stock,
                }
            };
            let item_visibility = round_to(rng.random_range(0.05..0.20), 6);
            Shelf {
                shelf_id: product.shelf_id.clone(),
                aisle: sub.aisle,
                item_category: sub.category.clone(),
                item_subcategory: sub.name.clone(),
                perishable: sub.perishable,
                item_weight: product.item_weight,
                item_price: product.item_price,
                item_visibility,
                standard_batch_size: bs,
                store_capacity,
                store_stock,
                warehouse_capacity: 0,
                warehouse_stock: 0,
            }
        })
        .collect()
}

/// Fills in warehouse capacity and stock (§1.4): capacity in whole batches, at least the rule's
/// minimum; stock 1–3 whole batches, at least 5 % of capacity rounded up to a batch.
fn warehouse_inventory(
    subcategories: &[Subcategory],
    products: &[Product],
    shelves: &mut [Shelf],
    seed: u64,
    size: f64,
) {
    let mut rng = stage_rng(seed, Stage::WarehouseInventory);
    for (shelf, product) in shelves.iter_mut().zip(products) {
        let bs = shelf.standard_batch_size.max(1);
        let rule = subcategories[product.subcategory].warehouse.clone();
        let min = rule.min_batches() * bs;
        let capacity = match rule {
            WarehouseRule::EqualsStore { .. } => ceil_to(shelf.store_capacity.max(min), bs),
            WarehouseRule::Range { range, .. } => {
                let drawn = scaled(rng.random_range(range), size).max(min);
                (drawn / bs * bs).max(min)
            }
        };
        let batches = rng.random_range(1..=(capacity / bs).clamp(1, 3));
        let floor = ceil_to(((0.05 * capacity as f64) as i64).max(1), bs);
        shelf.warehouse_capacity = capacity;
        shelf.warehouse_stock = (batches * bs).max(floor).min(capacity);
    }
}

/// `value` rounded up to a multiple of `step` (> 0).
fn ceil_to(value: i64, step: i64) -> i64 {
    (value + step - 1).div_euclid(step) * step
}

/// Splits each shelf's stock at `location` into batches (§1.5): one remainder batch (the oldest,
/// partly used) and whole batches, numbered by the shared `counter`.
fn batches(
    shelves: &[Shelf],
    location: Location,
    start_date: NaiveDate,
    counter: &mut u64,
    rng: &mut ChaCha8Rng,
) -> Vec<Batch> {
    let mut batches = Vec::new();
    for shelf in shelves {
        let stock = match location {
            Location::Store => shelf.store_stock,
            Location::Warehouse => shelf.warehouse_stock,
        };
        let bs = shelf.standard_batch_size.max(1);
        if stock <= 0 {
            continue;
        }
        let remainder = stock % bs;
        let quantities = (remainder > 0)
            .then_some(remainder)
            .into_iter()
            .chain(std::iter::repeat_n(bs, (stock / bs) as usize));
        let quantities: Vec<i64> = quantities.collect();
        let n = quantities.len() as i64;
        for (i, quantity) in (0..).zip(quantities) {
            let shelf_life = if shelf.perishable {
                rng.random_range((2 + i).min(15)..=15)
            } else {
                rng.random_range(365 + 100 * i..730 + 100 * i)
            };
            let age = rng.random_range(0..2) + (n - 1 - i);
            *counter += 1;
            batches.push(Batch {
                shelf_id: shelf.shelf_id.clone(),
                batch_code: format!("B{:07}", *counter),
                received_date: shift(start_date, -age),
                expiry_date: shift(start_date, shelf_life),
                quantity,
                location,
            });
        }
    }
    batches
}

/// The weekly promotions (§1.6): [`DISCOUNT_WEEKS`] weeks from [`first_discount_week`], each
/// with [`DISCOUNTS_PER_WEEK`] products taken by walking a random permutation of all products.
/// When the permutation runs out it is reshuffled, with the products already chosen that week
/// moved to its end, so no product is promoted twice in one week.
fn weekly_discounts(shelves: &[Shelf], start_date: NaiveDate, seed: u64) -> Vec<WeeklyDiscount> {
    let mut rng = stage_rng(seed, Stage::Discounts);
    let first = first_discount_week(start_date);
    let per_week = DISCOUNTS_PER_WEEK.min(shelves.len());
    let mut order: Vec<usize> = (0..shelves.len()).collect();
    order.shuffle(&mut rng);
    let mut next = 0;
    let mut discounts = Vec::with_capacity(DISCOUNT_WEEKS as usize * per_week);
    for week_index in 0..DISCOUNT_WEEKS {
        let mut chosen: Vec<usize> = Vec::with_capacity(per_week);
        while chosen.len() < per_week {
            if next == order.len() {
                order.shuffle(&mut rng);
                // Stable partition: this week's products go last.
                order.sort_by_key(|shelf| chosen.contains(shelf));
                next = 0;
            }
            chosen.push(order[next]);
            next += 1;
        }
        let week_start = shift(first, 7 * week_index);
        for shelf in chosen {
            let pct = rng.random_range(DISCOUNT_RANGE.0..DISCOUNT_RANGE.1);
            discounts.push(WeeklyDiscount {
                week_index,
                week_start,
                shelf_id: shelves[shelf].shelf_id.clone(),
                discount_pct: round_to(pct, 4),
            });
        }
    }
    discounts
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    fn start() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
    }

    fn reference(seed: u64) -> Reference {
        generate(seed, start(), &mut |_| {})
    }

    fn sums(batches: &[Batch]) -> BTreeMap<&str, i64> {
        let mut sums = BTreeMap::new();
        for batch in batches {
            *sums.entry(batch.shelf_id.as_str()).or_default() += batch.quantity;
        }
        sums
    }

    #[test]
    fn counts_match_the_domain() {
        let r = reference(42);
        assert_eq!(r.shelves.len(), 1142);
        let categories: BTreeSet<_> = r.shelves.iter().map(|s| &s.item_category).collect();
        assert_eq!(categories.len(), 29);
        let subcategories: BTreeSet<_> =
            r.shelves.iter().map(|s| (&s.item_category, &s.item_subcategory)).collect();
        assert_eq!(subcategories.len(), 278);
        assert_eq!(r.weekly_discounts.len(), 9360);
        // numpy gave 1,830 store and 2,250 warehouse batches; the draws differ, the rules don't.
        assert!((1600..2100).contains(&r.store_batches.len()), "{}", r.store_batches.len());
        assert!((2000..2500).contains(&r.warehouse_batches.len()), "{}", r.warehouse_batches.len());
        assert_eq!(r.store_batches[0].batch_code, "B0000001");
        let last_store = r.store_batches.len();
        assert_eq!(r.warehouse_batches[0].batch_code, format!("B{:07}", last_store + 1));
    }

    #[test]
    fn inventory_follows_the_rules() {
        let r = reference(7);
        for s in &r.shelves {
            let bs = s.standard_batch_size;
            assert!(s.store_capacity >= bs, "{}", s.shelf_id);
            assert!((1..=s.store_capacity).contains(&s.store_stock), "{}", s.shelf_id);
            assert!((0.05..=0.20).contains(&s.item_visibility));
            assert_eq!(s.warehouse_capacity % bs, 0, "{}", s.shelf_id);
            assert!(s.warehouse_capacity >= 2 * bs, "{}", s.shelf_id);
            assert_eq!(s.warehouse_stock % bs, 0, "{}", s.shelf_id);
            assert!((bs..=s.warehouse_capacity).contains(&s.warehouse_stock), "{}", s.shelf_id);
            if !s.perishable {
                assert!(s.store_stock * 10 >= s.store_capacity * 7 - 10, "{}", s.shelf_id);
            }
        }
    }

    #[test]
    fn batches_sum_to_stock_and_are_dated_from_the_start() {
        let r = reference(42);
        let store = sums(&r.store_batches);
        let warehouse = sums(&r.warehouse_batches);
        for s in &r.shelves {
            assert_eq!(store.get(s.shelf_id.as_str()).copied().unwrap_or(0), s.store_stock);
            assert_eq!(warehouse.get(s.shelf_id.as_str()).copied().unwrap_or(0), s.warehouse_stock);
        }
        let perishable: BTreeSet<_> =
            r.shelves.iter().filter(|s| s.perishable).map(|s| s.shelf_id.as_str()).collect();
        for b in r.store_batches.iter().chain(&r.warehouse_batches) {
            let life = (b.expiry_date - start()).num_days();
            let age = (start() - b.received_date).num_days();
            if perishable.contains(b.shelf_id.as_str()) {
                assert!((2..=15).contains(&life), "{b:?}");
            } else {
                assert!(life >= 365, "{b:?}");
            }
            assert!(age >= 0 && b.quantity > 0, "{b:?}");
        }
        assert!(r.store_batches.iter().all(|b| b.location == Location::Store));
        assert!(r.warehouse_batches.iter().all(|b| b.location == Location::Warehouse));
        let codes: BTreeSet<_> =
            r.store_batches.iter().chain(&r.warehouse_batches).map(|b| &b.batch_code).collect();
        assert_eq!(codes.len(), r.store_batches.len() + r.warehouse_batches.len());
    }

    #[test]
    fn discounts_walk_permutations_of_all_products() {
        let r = reference(42);
        let first = NaiveDate::from_ymd_opt(2024, 12, 30).unwrap();
        assert_eq!(r.weekly_discounts[0].week_start, first);
        let last = r.weekly_discounts.last().unwrap();
        assert_eq!(
            (last.week_index, last.week_start),
            (155, NaiveDate::from_ymd_opt(2027, 12, 20).unwrap())
        );
        let mut per_week: BTreeMap<i64, BTreeSet<&str>> = BTreeMap::new();
        for d in &r.weekly_discounts {
            assert!((0.05..=0.35).contains(&d.discount_pct));
            assert_eq!(d.discount_pct, round_to(d.discount_pct, 4));
            assert_eq!(d.week_start, shift(first, 7 * d.week_index));
            per_week.entry(d.week_index).or_default().insert(&d.shelf_id);
        }
        assert!(per_week.values().all(|shelves| shelves.len() == 60));
        // The first 19 weeks (1,140 rows) never repeat a product.
        let first_pass: BTreeSet<_> =
            r.weekly_discounts.iter().take(1140).map(|d| &d.shelf_id).collect();
        assert_eq!(first_pass.len(), 1140);
    }

    #[test]
    fn the_same_seed_gives_the_same_reference() {
        assert_eq!(reference(42), reference(42));
        assert_ne!(reference(42), reference(43));
        let later = generate(42, NaiveDate::from_ymd_opt(2027, 3, 1).unwrap(), &mut |_| {});
        assert_eq!(later.shelves, reference(42).shelves);
    }

    #[test]
    fn the_first_discount_week_is_a_monday_a_year_before() {
        assert_eq!(first_discount_week(start()), NaiveDate::from_ymd_opt(2024, 12, 30).unwrap());
        let leap = NaiveDate::from_ymd_opt(2028, 2, 29).unwrap();
        assert_eq!(first_discount_week(leap), NaiveDate::from_ymd_opt(2027, 2, 22).unwrap());
    }
}
