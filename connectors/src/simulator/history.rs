//! The one-year history panel (domain §1.7, §5.2): a daily simulation of every shelf over the
//! days before the simulation start, run with the same replenishment policy as the live
//! pipelines (fixes §8.15–16). It is the ML training set.
//!
//! A day, for every shelf:
//! 1. supplier orders due today arrive in the warehouse (deliveries Mon/Wed/Fri);
//! 2. batches past their expiry (`expiry < today`) are removed from shelf and warehouse;
//! 3. customers buy `Poisson(expected units × today's traffic / expected traffic)` units,
//!    first-expiry-first-out, never more than the shelf holds. The moment the shelf falls below
//!    its refill threshold, staff refill it from the warehouse (oldest batch first) up to the
//!    refill target, at most once a day, and the rest of the day's demand is served from the
//!    refilled shelf;
//! 4. at a supplier cutoff (Sun/Tue/Thu) one order is placed per shelf whose warehouse stock
//!    plus stock on order is below the reorder point, for whole batches, within capacity.
//!
//! Demand per day for the policy is the mean of the previous 7 days' sales (no EWMA, so there
//! is no feedback loop), or the expected units before 7 days exist.

use chrono::{Datelike, NaiveDate, Weekday};
use rand::Rng;
use rand_distr::{Distribution, Poisson};

use super::generate::{first_discount_week, shift, stage_rng, Stage};
use super::reference::{Batch, Reference, Shelf};

/// Mean customers on an average day, before weekday weights.
pub const BASE_DAILY_CUSTOMERS: f64 = 1000.0;
/// Mean shelf actions per customer (20 % 3–6, 50 % 7–15, 30 % 16–30).
pub const ACTIONS_PER_CUSTOMER: f64 = 13.3;
/// Share of actions that are pickups.
pub const PICKUP_SHARE: f64 = 0.85;
/// Mean units per pickup (1: 60 %, 2: 30 %, 3: 10 %).
pub const UNITS_PER_PICKUP: f64 = 1.5;
/// Share of picked units that are bought (net of putbacks).
pub const NET_OF_PUTBACKS: f64 = 0.9;
/// Customers' daily traffic noise: the day's total is the expected total × `U(lo, hi)`.
pub const TRAFFIC_NOISE: (f64, f64) = (0.9, 1.1);
/// Expiry features when the shelf holds no batch.
pub const NO_EXPIRY: i64 = 9999;
/// Window of `alerts_last_30d_*`, in days before the feature date.
pub const ALERT_WINDOW_DAYS: usize = 30;

/// Time-slot weights of foot traffic per weekday (Mon..Sun) and slot (00–07, 07–10, 10–14,
/// 14–17, 17–20, 20–24), domain §2.3.
pub const SLOT_WEIGHTS: [[u32; 6]; 7] = [
    [16, 17, 20, 17, 13, 10],
    [12, 15, 21, 17, 14, 9],
    [15, 16, 25, 22, 17, 12],
    [14, 14, 19, 21, 18, 10],
    [19, 17, 25, 24, 23, 15],
    [22, 24, 27, 22, 20, 18],
    [22, 21, 23, 19, 16, 13],
];

/// Expected customers on `weekday`: [`BASE_DAILY_CUSTOMERS`] × the weekday's slot-weight sum /
/// the average weekday's sum.
pub fn expected_customers(weekday: Weekday) -> f64 {
    let day = |w: &[u32; 6]| f64::from(w.iter().sum::<u32>());
    let average = SLOT_WEIGHTS.iter().map(day).sum::<f64>() / 7.0;
    BASE_DAILY_CUSTOMERS * day(&SLOT_WEIGHTS[weekday.num_days_from_monday() as usize]) / average
}

/// Expected units sold per shelf on `weekday`, in `reference.shelves` order: expected customers
/// × actions × pickup share × units per pickup × net of putbacks, shared by `item_visibility`.
pub fn expected_daily_units(reference: &Reference, weekday: Weekday) -> Vec<f64> {
    let total: f64 = reference.shelves.iter().map(|s| s.item_visibility.max(0.0)).sum();
    let units = expected_customers(weekday)
        * ACTIONS_PER_CUSTOMER
        * PICKUP_SHARE
        * UNITS_PER_PICKUP
        * NET_OF_PUTBACKS;
    reference
        .shelves
        .iter()
        .map(|s| if total > 0.0 { units * s.item_visibility.max(0.0) / total } else { 0.0 })
        .collect()
}

/// The replenishment policy of the history; the defaults are those of the live pipelines.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPolicy {
    /// Simulated days, ending the day before the reference's start date.
    pub days: u32,
    /// A shelf is refilled when its stock is below this percentage of its capacity…
    pub refill_threshold_pct: f64,
    /// …or below this many units.
    pub refill_min_qty: i64,
    /// Refills fill the shelf up to this percentage of its capacity (rounded up).
    pub refill_target_pct: f64,
    /// Days of supplier cutoffs, when orders are placed.
    pub cutoff_weekdays: Vec<Weekday>,
    /// Days of supplier deliveries: an order arrives on the first of these after its cutoff.
    pub delivery_weekdays: Vec<Weekday>,
    /// Reorder point in days of demand.
    pub reorder_cover_days: f64,
    /// Orders fill warehouse stock plus stock on order up to this many days of demand.
    pub order_up_to_days: f64,
    /// Demand per day is the mean sales over this many previous days.
    pub demand_window_days: usize,
    /// Shelf life of delivered perishables, in days (inclusive range).
    pub perishable_expiry_days: (i64, i64),
    /// Shelf life of other deliveries, in days (inclusive range).
    pub durable_expiry_days: (i64, i64),
}

impl Default for HistoryPolicy {
    fn default() -> Self {
        HistoryPolicy {
            days: 365,
            refill_threshold_pct: 30.0,
            refill_min_qty: 1,
            refill_target_pct: 80.0,
            cutoff_weekdays: vec![Weekday::Sun, Weekday::Tue, Weekday::Thu],
            delivery_weekdays: vec![Weekday::Mon, Weekday::Wed, Weekday::Fri],
            reorder_cover_days: 7.0,
            order_up_to_days: 14.0,
            demand_window_days: 7,
            perishable_expiry_days: (2, 15),
            durable_expiry_days: (365, 730),
        }
    }
}

impl HistoryPolicy {
    /// Units below which a shelf of `capacity` is refilled: `max(ceil(pct × cap), min_qty)`.
    pub fn refill_threshold_qty(&self, capacity: i64) -> i64 {
        ceil_units(capacity as f64 * self.refill_threshold_pct / 100.0).max(self.refill_min_qty)
    }

    /// What a refill fills a shelf of `capacity` up to: `ceil(target_pct × cap)`, within it.
    pub fn refill_target_qty(&self, capacity: i64) -> i64 {
        ceil_units(capacity as f64 * self.refill_target_pct / 100.0).min(capacity)
    }
}

/// `x` rounded up to whole units (products and quotients of integers are exact in f64, so
/// `ceil` sees no spurious fractions).
fn ceil_units(x: f64) -> i64 {
    if x.is_finite() {
        x.ceil() as i64
    } else {
        0
    }
}

/// One shelf on one day: the columns of the panel (§5.2). Stock figures are at the end of the
/// day.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    /// The day.
    pub feature_date: NaiveDate,
    /// Index of the shelf in [`History::shelves`].
    pub shelf: usize,
    /// 0 = Monday … 6 = Sunday.
    pub day_of_week: i64,
    /// Saturday or Sunday.
    pub is_weekend: bool,
    /// A warehouse → shelf transfer happened.
    pub refill_day: bool,
    /// A supplier delivery day (Mon/Wed/Fri).
    pub warehouse_inbound_day: bool,
    /// Weekly promotion depth today (0 if none).
    pub discount: f64,
    /// `discount > 0`.
    pub is_discounted: bool,
    /// Any promotion in `[D, D+6]`.
    pub is_discounted_next_7d: bool,
    /// Customers in the store today.
    pub people_count: i64,
    /// Units sold today.
    pub sales_qty: i64,
    /// Units sold yesterday.
    pub sales_last_1d: i64,
    /// Units sold over the previous 7 days (fewer at the start of the history).
    pub sales_last_7d: i64,
    /// Units sold over the previous 14 days.
    pub sales_last_14d: i64,
    /// 1 if demand exceeded what the shelf could serve.
    pub stockout_events: i64,
    /// Tomorrow's `stockout_events > 0`; `None` on the last day.
    pub label_next_day_stockout: Option<bool>,
    /// Shelf capacity.
    pub shelf_capacity: i64,
    /// Units on the shelf.
    pub current_stock_shelf: i64,
    /// `current_stock_shelf / shelf_capacity`.
    pub shelf_fill_ratio: f64,
    /// Units below which the shelf is refilled.
    pub shelf_threshold_qty: i64,
    /// Units removed from the shelf as expired.
    pub expired_qty_shelf: i64,
    /// Units removed from the warehouse as expired.
    pub expired_qty_wh: i64,
    /// Days with a shelf alert among the previous 30.
    pub alerts_last_30d_shelf: i64,
    /// Days with a warehouse alert among the previous 30.
    pub alerts_last_30d_wh: i64,
    /// The shelf fell (or was) below its refill threshold today.
    pub is_shelf_alert: bool,
    /// Warehouse stock below the reorder point at the end of the day.
    pub is_warehouse_alert: bool,
    /// Warehouse capacity.
    pub warehouse_capacity: i64,
    /// Units in the warehouse.
    pub current_stock_warehouse: i64,
    /// `current_stock_warehouse / warehouse_capacity`.
    pub warehouse_fill_ratio: f64,
    /// `ceil(demand per day × reorder cover)`.
    pub wh_reorder_point_qty: i64,
    /// Units ordered from the supplier, not yet delivered (today's order included).
    pub pending_supplier_qty: i64,
    /// Units moved from the warehouse to the shelf.
    pub moved_wh_to_shelf: i64,
    /// Pieces per supplier batch.
    pub standard_batch_size: i64,
    /// Days to the earliest expiry on the shelf ([`NO_EXPIRY`] if empty).
    pub min_expiration_days: i64,
    /// Mean days to expiry over the shelf's batches ([`NO_EXPIRY`] if empty).
    pub avg_expiration_days: f64,
    /// Units on the shelf expiring in `[D, D+6]`.
    pub qty_expiring_next_7d: i64,
    /// Whole supplier batches ordered today (the ML target).
    pub batches_to_order: i64,
}

/// The history panel: one row per shelf per day, day by day, shelves in reference order.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// The seed of the simulation.
    pub seed: u64,
    /// The first simulated day.
    pub first_date: NaiveDate,
    /// The shelves, as in the reference.
    pub shelves: Vec<Shelf>,
    /// `days × shelves` rows.
    pub rows: Vec<HistoryRow>,
}

impl History {
    /// The shelf of a row.
    pub fn shelf(&self, row: &HistoryRow) -> &Shelf {
        &self.shelves[row.shelf]
    }
}

/// A batch in the history's ledger. Dates are days since the first simulated day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Lot {
    received: i64,
    expiry: i64,
    code: u64,
    quantity: i64,
}

/// The ledger and order book of one shelf.
#[derive(Debug, Default)]
struct ShelfLedger {
    /// Shelf batches in first-expiry-first-out order (expiry, code).
    shelf: Vec<Lot>,
    /// Warehouse batches oldest first (received, expiry, code).
    warehouse: Vec<Lot>,
    /// Orders not yet delivered: (delivery day, units).
    on_order: Vec<(i64, i64)>,
}

impl ShelfLedger {
    fn shelf_stock(&self) -> i64 {
        self.shelf.iter().map(|l| l.quantity).sum()
    }

    fn warehouse_stock(&self) -> i64 {
        self.warehouse.iter().map(|l| l.quantity).sum()
    }

    fn on_order(&self) -> i64 {
        self.on_order.iter().map(|(_, q)| q).sum()
    }

    /// Removes expired batches; returns (shelf units, warehouse units) removed.
    fn remove_expired(&mut self, day: i64) -> (i64, i64) {
        let remove = |lots: &mut Vec<Lot>| {
            let before: i64 = lots.iter().map(|l| l.quantity).sum();
            lots.retain(|l| l.expiry >= day);
            before - lots.iter().map(|l| l.quantity).sum::<i64>()
        };
        (remove(&mut self.shelf), remove(&mut self.warehouse))
    }

    /// Sells up to `units` first-expiry-first-out; returns the units sold.
    fn sell(&mut self, units: i64) -> i64 {
        let mut left = units;
        for lot in self.shelf.iter_mut() {
            let take = lot.quantity.min(left);
            lot.quantity -= take;
            left -= take;
            if left == 0 {
                break;
            }
        }
        self.shelf.retain(|l| l.quantity > 0);
        units - left
    }

    /// Moves up to `units` from the warehouse (oldest first) to the shelf, keeping batch codes
    /// and expiry; returns the units moved.
    fn refill(&mut self, units: i64) -> i64 {
        let mut left = units;
        for lot in self.warehouse.iter_mut() {
            if left == 0 {
                break;
            }
            let take = lot.quantity.min(left);
            lot.quantity -= take;
            left -= take;
            match self.shelf.iter_mut().find(|s| s.code == lot.code) {
                Some(on_shelf) => on_shelf.quantity += take,
                None => self.shelf.push(Lot { quantity: take, ..*lot }),
            }
        }
        self.warehouse.retain(|l| l.quantity > 0);
        self.shelf.sort_by_key(|l| (l.expiry, l.code));
        units - left
    }
}

/// Simulates the [`HistoryPolicy::days`] days before `reference.start_date`, starting from the
/// reference stock with its batch dates moved back to the first simulated day. The same
/// reference, seed and policy give the same history. `progress` receives one line per month.
pub fn simulate_history(
    reference: &Reference,
    seed: u64,
    policy: &HistoryPolicy,
    progress: &mut dyn FnMut(&str),
) -> History {
    let shelves = &reference.shelves;
    let n = shelves.len();
    let days = i64::from(policy.days);
    let first_date = shift(reference.start_date, -days);
    let mut rng = stage_rng(seed, Stage::History);
    let mut ledgers = initial_ledgers(reference, days);
    let mut next_code = 10_000_001u64;

    let weekdays = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];
    let expected: Vec<Vec<f64>> =
        weekdays.iter().map(|&w| expected_daily_units(reference, w)).collect();
    let expected_week: Vec<f64> = (0..n).map(|s| expected.iter().map(|e| e[s]).sum()).collect();
    let promotions = Promotions::new(reference, first_date);
    let threshold: Vec<i64> =
        shelves.iter().map(|s| policy.refill_threshold_qty(s.store_capacity)).collect();
    let target: Vec<i64> =
        shelves.iter().map(|s| policy.refill_target_qty(s.store_capacity)).collect();

    let mut rows: Vec<HistoryRow> = Vec::with_capacity(n * policy.days as usize);
    // Sales per day and shelf, for the policy's demand estimate.
    let mut sales: Vec<Vec<i64>> = Vec::with_capacity(policy.days as usize);
    for day in 0..days {
        let date = shift(first_date, day);
        let weekday = date.weekday();
        let dow = weekday.num_days_from_monday() as usize;
        if date.day() == 1 {
            progress(&format!("history: {}", date.format("%Y-%m")));
        }
        let customers = expected_customers(weekday);
        let people = (customers * rng.random_range(TRAFFIC_NOISE.0..=TRAFFIC_NOISE.1)).round();
        let traffic = if customers > 0.0 { people / customers } else { 0.0 };
        let is_cutoff = policy.cutoff_weekdays.contains(&weekday);
        let delivery_day = next_delivery(policy, date).map(|d| (d - first_date).num_days());
        let mut sold_today = vec![0; n];

        for (s, (shelf, ledger)) in shelves.iter().zip(ledgers.iter_mut()).enumerate() {
            let bs = shelf.standard_batch_size.max(1);
            // 1. Deliveries, within capacity (orders were sized to fit).
            let due: i64 = ledger.on_order.iter().filter(|(d, _)| *d == day).map(|(_, q)| q).sum();
            ledger.on_order.retain(|(d, _)| *d != day);
            let room = (shelf.warehouse_capacity - ledger.warehouse_stock()).max(0);
            let delivered = due.min(room);
            if delivered > 0 {
                let (lo, hi) = if shelf.perishable {
                    policy.perishable_expiry_days
                } else {
                    policy.durable_expiry_days
                };
                let life = if lo < hi { rng.random_range(lo..=hi) } else { lo };
                ledger.warehouse.push(Lot {
                    received: day,
                    expiry: day + life,
                    code: next_code,
                    quantity: delivered,
                });
                next_code += 1;
            }
            // 2. Expiry.
            let (expired_shelf, expired_wh) = ledger.remove_expired(day);
            // 3. Demand, sales and the same-day refill.
            let mean = expected[dow][s] * traffic;
            let demand = match Poisson::new(mean) {
                Ok(poisson) => poisson.sample(&mut rng) as i64,
                Err(_) => 0,
            };
            let stock = ledger.shelf_stock();
            let until_alert = (stock - threshold[s] + 1).max(0);
            let mut sold = ledger.sell(demand.min(until_alert));
            let mut moved = 0;
            let is_shelf_alert = demand >= until_alert;
            if is_shelf_alert {
                let want = (target[s] - ledger.shelf_stock()).max(0);
                moved = ledger.refill(want);
                sold += ledger.sell(demand - sold);
            }
            sold_today[s] = sold;
            // 4. Demand estimate, reorder point and the cutoff order.
            let (demand_sum, demand_days) = if sales.len() >= policy.demand_window_days
                && policy.demand_window_days > 0
            {
                let window = &sales[sales.len() - policy.demand_window_days..];
                (window.iter().map(|d| d[s]).sum::<i64>() as f64, policy.demand_window_days as f64)
            } else {
                (expected_week[s], 7.0)
            };
            // Multiply before dividing, so whole results stay whole.
            let cover = |days: f64| ceil_units(demand_sum * days / demand_days);
            let reorder_point = cover(policy.reorder_cover_days);
            let on_hand = ledger.warehouse_stock();
            let mut on_order = ledger.on_order();
            let mut batches_to_order = 0;
            if let (true, Some(delivery)) = (is_cutoff, delivery_day) {
                if on_hand + on_order < reorder_point {
                    let wanted = cover(policy.order_up_to_days) - on_hand - on_order;
                    let wanted_batches = (wanted.max(0) + bs - 1) / bs;
                    let room_batches = (shelf.warehouse_capacity - on_hand - on_order).max(0) / bs;
                    batches_to_order = wanted_batches.min(room_batches);
                    if batches_to_order > 0 {
                        ledger.on_order.push((delivery, batches_to_order * bs));
                        on_order += batches_to_order * bs;
                    }
                }
            }
            // Expiry features of the shelf at the end of the day.
            let shelf_stock = ledger.shelf_stock();
            let (min_days, avg_days) = if ledger.shelf.is_empty() {
                (NO_EXPIRY, NO_EXPIRY as f64)
            } else {
                let left = ledger.shelf.iter().map(|l| l.expiry - day);
                let total: i64 = left.clone().sum();
                (left.min().unwrap_or(NO_EXPIRY), total as f64 / ledger.shelf.len() as f64)
            };
            let expiring: i64 = ledger
                .shelf
                .iter()
                .filter(|l| (day..day + 7).contains(&l.expiry))
                .map(|l| l.quantity)
                .sum();
            let discount = promotions.discount(s, day);
            rows.push(HistoryRow {
                feature_date: date,
                shelf: s,
                day_of_week: dow as i64,
                is_weekend: dow >= 5,
                refill_day: moved > 0,
                warehouse_inbound_day: policy.delivery_weekdays.contains(&weekday),
                discount,
                is_discounted: discount > 0.0,
                is_discounted_next_7d: promotions.any_in(s, day, day + 6),
                people_count: people as i64,
                sales_qty: sold,
                sales_last_1d: 0,
                sales_last_7d: 0,
                sales_last_14d: 0,
                stockout_events: i64::from(demand > sold),
                label_next_day_stockout: None,
                shelf_capacity: shelf.store_capacity,
                current_stock_shelf: shelf_stock,
                shelf_fill_ratio: ratio(shelf_stock, shelf.store_capacity),
                shelf_threshold_qty: threshold[s],
                expired_qty_shelf: expired_shelf,
                expired_qty_wh: expired_wh,
                alerts_last_30d_shelf: 0,
                alerts_last_30d_wh: 0,
                is_shelf_alert,
                is_warehouse_alert: on_hand < reorder_point,
                warehouse_capacity: shelf.warehouse_capacity,
                current_stock_warehouse: on_hand,
                warehouse_fill_ratio: ratio(on_hand, shelf.warehouse_capacity),
                wh_reorder_point_qty: reorder_point,
                pending_supplier_qty: on_order,
                moved_wh_to_shelf: moved,
                standard_batch_size: shelf.standard_batch_size,
                min_expiration_days: min_days,
                avg_expiration_days: avg_days,
                qty_expiring_next_7d: expiring,
                batches_to_order,
            });
        }
        sales.push(sold_today);
    }
    fill_lagged(&mut rows, n);
    progress(&format!("history: {} rows", rows.len()));
    History { seed, first_date, shelves: shelves.clone(), rows }
}

/// `part / whole`, 0 when `whole` is 0.
fn ratio(part: i64, whole: i64) -> f64 {
    if whole > 0 {
        part as f64 / whole as f64
    } else {
        0.0
    }
}

/// The first delivery weekday strictly after `date`.
fn next_delivery(policy: &HistoryPolicy, date: NaiveDate) -> Option<NaiveDate> {
    (1..=7).map(|d| shift(date, d)).find(|d| policy.delivery_weekdays.contains(&d.weekday()))
}

/// The reference stock as ledgers, with dates in days since the first simulated day (the
/// reference's dates moved back by the history's length).
fn initial_ledgers(reference: &Reference, days: i64) -> Vec<ShelfLedger> {
    let index: std::collections::HashMap<&str, usize> =
        reference.shelves.iter().enumerate().map(|(i, s)| (s.shelf_id.as_str(), i)).collect();
    let mut ledgers: Vec<ShelfLedger> =
        reference.shelves.iter().map(|_| ShelfLedger::default()).collect();
    let day = |date: NaiveDate| (date - reference.start_date).num_days() + days;
    let mut lots = |batches: &[Batch], store: bool| {
        for (code, batch) in (1..).zip(batches) {
            let Some(&s) = index.get(batch.shelf_id.as_str()) else { continue };
            let code = batch.batch_code.get(1..).and_then(|c| c.parse().ok()).unwrap_or(code);
            let lot = Lot {
                received: day(batch.received_date),
                expiry: day(batch.expiry_date),
                code,
                quantity: batch.quantity,
            };
            let ledger = &mut ledgers[s];
            if store {
                ledger.shelf.push(lot);
            } else {
                ledger.warehouse.push(lot);
            }
        }
    };
    lots(&reference.store_batches, true);
    lots(&reference.warehouse_batches, false);
    for ledger in &mut ledgers {
        ledger.shelf.retain(|l| l.quantity > 0);
        ledger.warehouse.retain(|l| l.quantity > 0);
        ledger.shelf.sort_by_key(|l| (l.expiry, l.code));
        ledger.warehouse.sort_by_key(|l| (l.received, l.expiry, l.code));
    }
    ledgers
}

/// Weekly promotion depth per (week, shelf) over the history.
struct Promotions {
    /// Days from the first simulated day back to the first promotion week's Monday.
    offset: i64,
    /// `weeks × shelves` depths, 0 where there is no promotion.
    depth: Vec<f64>,
    shelves: usize,
}

impl Promotions {
    fn new(reference: &Reference, first_date: NaiveDate) -> Promotions {
        let first_week = first_discount_week(reference.start_date);
        let index: std::collections::HashMap<&str, usize> =
            reference.shelves.iter().enumerate().map(|(i, s)| (s.shelf_id.as_str(), i)).collect();
        let shelves = reference.shelves.len();
        let weeks = reference.weekly_discounts.iter().map(|d| d.week_index + 1).max().unwrap_or(0);
        let mut depth = vec![0.0; weeks.max(0) as usize * shelves];
        for d in &reference.weekly_discounts {
            let week = (d.week_start - first_week).num_days().div_euclid(7);
            if let (Some(&s), true) = (index.get(d.shelf_id.as_str()), (0..weeks).contains(&week)) {
                let cell: &mut f64 = &mut depth[week as usize * shelves + s];
                *cell = cell.max(d.discount_pct);
            }
        }
        Promotions { offset: (first_date - first_week).num_days(), depth, shelves }
    }

    /// The depth for `shelf` on history day `day`.
    fn discount(&self, shelf: usize, day: i64) -> f64 {
        let week = (day + self.offset).div_euclid(7);
        if week < 0 {
            return 0.0;
        }
        self.depth.get(week as usize * self.shelves + shelf).copied().unwrap_or(0.0)
    }

    /// Whether `shelf` has a promotion on any day of `[from, to]`.
    fn any_in(&self, shelf: usize, from: i64, to: i64) -> bool {
        self.discount(shelf, from) > 0.0 || self.discount(shelf, to) > 0.0
    }
}

/// Fills the columns that look back or ahead: lagged sales, 30-day alert counts and tomorrow's
/// stockout label. `rows` are day-major with `n` shelves per day.
fn fill_lagged(rows: &mut [HistoryRow], n: usize) {
    if n == 0 {
        return;
    }
    let days = rows.len() / n;
    let sum_back =
        |rows: &[HistoryRow], day: usize, s: usize, len: usize, f: fn(&HistoryRow) -> i64| {
            (day.saturating_sub(len)..day).map(|d| f(&rows[d * n + s])).sum::<i64>()
        };
    for day in 0..days {
        for s in 0..n {
            let sales_1 = sum_back(rows, day, s, 1, |r| r.sales_qty);
            let sales_7 = sum_back(rows, day, s, 7, |r| r.sales_qty);
            let sales_14 = sum_back(rows, day, s, 14, |r| r.sales_qty);
            let shelf_alerts =
                sum_back(rows, day, s, ALERT_WINDOW_DAYS, |r| i64::from(r.is_shelf_alert));
            let wh_alerts =
                sum_back(rows, day, s, ALERT_WINDOW_DAYS, |r| i64::from(r.is_warehouse_alert));
            let label = (day + 1 < days).then(|| rows[(day + 1) * n + s].stockout_events > 0);
            let row = &mut rows[day * n + s];
            row.sales_last_1d = sales_1;
            row.sales_last_7d = sales_7;
            row.sales_last_14d = sales_14;
            row.alerts_last_30d_shelf = shelf_alerts;
            row.alerts_last_30d_wh = wh_alerts;
            row.label_next_day_stockout = label;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::generate::generate;
    use super::*;

    fn reference() -> Reference {
        generate(42, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(), &mut |_| {})
    }

    #[test]
    fn expected_traffic_follows_the_slot_weights() {
        // 0.8 × these are the foot-traffic producer's weekday means (§2.3).
        assert!((expected_customers(Weekday::Mon) * 0.8 - 690.7).abs() < 0.1);
        assert!((expected_customers(Weekday::Sat) * 0.8 - 987.8).abs() < 0.1);
        let r = reference();
        let units: f64 = expected_daily_units(&r, Weekday::Mon).iter().sum();
        let expected = expected_customers(Weekday::Mon) * 13.3 * 0.85 * 1.5 * 0.9;
        assert!((units - expected).abs() < 1e-6);
    }

    #[test]
    fn policy_quantities_are_exact() {
        let policy = HistoryPolicy::default();
        assert_eq!(policy.refill_threshold_qty(10), 3);
        assert_eq!(policy.refill_threshold_qty(11), 4);
        assert_eq!(policy.refill_threshold_qty(1), 1);
        assert_eq!(policy.refill_target_qty(10), 8);
        assert_eq!(policy.refill_target_qty(11), 9);
    }

    #[test]
    fn the_history_keeps_its_invariants() {
        let r = reference();
        let policy = HistoryPolicy::default();
        let history = simulate_history(&r, 42, &policy, &mut |_| {});
        assert_eq!(history.rows.len(), 416_830);
        assert_eq!(history.first_date, NaiveDate::from_ymd_opt(2025, 1, 1).unwrap());
        assert_eq!(
            history.rows.last().unwrap().feature_date,
            NaiveDate::from_ymd_opt(2025, 12, 31).unwrap()
        );
        let mut per_shelf: BTreeMap<usize, Vec<&HistoryRow>> = BTreeMap::new();
        for row in &history.rows {
            let shelf = history.shelf(row);
            assert!((0..=row.shelf_capacity).contains(&row.current_stock_shelf), "{row:?}");
            assert!((0..=row.warehouse_capacity).contains(&row.current_stock_warehouse), "{row:?}");
            assert!(row.sales_qty >= 0 && row.moved_wh_to_shelf >= 0);
            assert_eq!(row.pending_supplier_qty % shelf.standard_batch_size, 0, "{row:?}");
            assert!(
                row.current_stock_warehouse + row.pending_supplier_qty <= row.warehouse_capacity
            );
            if row.batches_to_order > 0 {
                assert!([6, 1, 3].contains(&row.day_of_week), "{row:?}");
            }
            assert_eq!(row.refill_day, row.moved_wh_to_shelf > 0);
            per_shelf.entry(row.shelf).or_default().push(row);
        }
        for rows in per_shelf.values() {
            assert_eq!(rows.len(), 365);
            for pair in rows.windows(2) {
                let (a, b) = (pair[0], pair[1]);
                assert_eq!(b.sales_last_1d, a.sales_qty);
                assert_eq!(a.label_next_day_stockout, Some(b.stockout_events > 0));
            }
            assert_eq!(rows[364].label_next_day_stockout, None);
            let alerts: i64 = rows[300..330].iter().map(|r| i64::from(r.is_shelf_alert)).sum();
            assert_eq!(rows[330].alerts_last_30d_shelf, alerts);
            let sales: i64 = rows[316..330].iter().map(|r| r.sales_qty).sum();
            assert_eq!(rows[330].sales_last_14d, sales);
        }
        // Perishables are refilled and ordered too, and sales do not run away (no EWMA).
        let perishable_orders: i64 = history
            .rows
            .iter()
            .filter(|r| history.shelf(r).perishable)
            .map(|r| r.batches_to_order)
            .sum();
        assert!(perishable_orders > 0);
        let daily = |day: usize| -> i64 {
            history.rows[day * 1142..(day + 1) * 1142].iter().map(|r| r.sales_qty).sum()
        };
        let (january, december): (i64, i64) =
            ((7..21).map(daily).sum(), (340..354).map(daily).sum());
        assert!(december < january * 2 && january < december * 2, "{january} {december}");
    }

    #[test]
    fn the_same_seed_gives_the_same_history() {
        let r = reference();
        let policy = HistoryPolicy { days: 30, ..HistoryPolicy::default() };
        let a = simulate_history(&r, 1, &policy, &mut |_| {});
        assert_eq!(a, simulate_history(&r, 1, &policy, &mut |_| {}));
        assert_ne!(a, simulate_history(&r, 2, &policy, &mut |_| {}));
        assert_eq!(a.rows.len(), 30 * 1142);
    }
}
