//! The stock ledger of one shelf (its store and warehouse batches) and the index that draws the
//! product a customer picks.
//!
//! Batches are the source of truth: a location's stock is always the sum of its batch quantities,
//! and no quantity is ever negative.

use shelfflow_operators::value::Days;
use shelfflow_operators::Value;

/// Units of one batch at one place.
#[derive(Debug, Clone)]
pub(super) struct Lot {
    /// Always a `Value::Str`, kept as a value so rows clone it without re-encoding.
    pub code: Value,
    pub received: Days,
    pub expiry: Days,
    pub quantity: i64,
}

impl Lot {
    pub fn code(&self) -> &str {
        self.code.as_str().unwrap_or_default()
    }

    /// The same batch with another quantity.
    pub fn with_quantity(&self, quantity: i64) -> Lot {
        Lot { code: self.code.clone(), received: self.received, expiry: self.expiry, quantity }
    }

    /// Store order: first expiry first out, then batch code.
    fn store_before(&self, other: &Lot) -> bool {
        (self.expiry, self.code()) < (other.expiry, other.code())
    }

    /// Warehouse order: oldest received first, then expiry, then batch code.
    fn warehouse_before(&self, other: &Lot) -> bool {
        (self.received, self.expiry, self.code()) < (other.received, other.expiry, other.code())
    }
}

/// A restock plan the staff have not executed yet.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    pub id: Value,
    pub shelf: u32,
    pub quantity: i64,
}

/// Stock of one product.
#[derive(Debug, Default)]
pub(super) struct ShelfLedger {
    /// Store batches with units, first-expiry-first-out order.
    pub store: Vec<Lot>,
    /// Warehouse batches with units, oldest first.
    pub warehouse: Vec<Lot>,
    pub store_units: i64,
    pub warehouse_units: i64,
    /// Picked in the warehouse, on the way to the shelf.
    pub transit_units: i64,
    /// In the carts of customers still in the store (they may come back to the shelf).
    pub cart_units: i64,
    /// Plans that found the warehouse empty, served after the next delivery.
    pub waiting: Vec<Plan>,
}

impl ShelfLedger {
    /// Units the staff may still bring to a shelf of `capacity` without overfilling it, even if
    /// every cart returns its units.
    pub fn room(&self, capacity: i64) -> i64 {
        (capacity - self.store_units - self.transit_units - self.cart_units).max(0)
    }

    /// Takes up to `quantity` units off the shelf, first expiry first; appends the lots taken.
    pub fn take_store(&mut self, quantity: i64, out: &mut Vec<Lot>) -> i64 {
        let taken = take_front(&mut self.store, quantity, out);
        self.store_units -= taken;
        taken
    }

    /// Takes up to `quantity` units out of the warehouse, oldest first; appends the lots taken.
    pub fn take_warehouse(&mut self, quantity: i64, out: &mut Vec<Lot>) -> i64 {
        let taken = take_front(&mut self.warehouse, quantity, out);
        self.warehouse_units -= taken;
        taken
    }

    /// Puts units of a batch on the shelf, joining the batch if it is there.
    pub fn put_store(&mut self, lot: Lot) {
        self.store_units += lot.quantity;
        insert(&mut self.store, lot, Lot::store_before);
    }

    /// Puts units of a batch in the warehouse, joining the batch if it is there.
    pub fn put_warehouse(&mut self, lot: Lot) {
        self.warehouse_units += lot.quantity;
        insert(&mut self.warehouse, lot, Lot::warehouse_before);
    }

    /// Removes every batch that expired before `day`, store lots to `store_out` and warehouse
    /// lots to `warehouse_out`.
    pub fn remove_expired(&mut self, day: Days, store_out: &mut Vec<Lot>, wh_out: &mut Vec<Lot>) {
        self.store_units -= drain_expired(&mut self.store, day, store_out);
        self.warehouse_units -= drain_expired(&mut self.warehouse, day, wh_out);
    }
}

fn take_front(lots: &mut Vec<Lot>, quantity: i64, out: &mut Vec<Lot>) -> i64 {
    let mut taken = 0;
    let mut emptied = 0;
    for lot in lots.iter_mut() {
        if taken >= quantity {
            break;
        }
        let take = lot.quantity.min(quantity - taken);
        out.push(lot.with_quantity(take));
        lot.quantity -= take;
        taken += take;
        if lot.quantity == 0 {
            emptied += 1;
        }
    }
    lots.drain(..emptied);
    taken
}

fn insert(lots: &mut Vec<Lot>, lot: Lot, before: fn(&Lot, &Lot) -> bool) {
    if lot.quantity <= 0 {
        return;
    }
    if let Some(same) = lots.iter_mut().find(|l| l.code() == lot.code()) {
        same.quantity += lot.quantity;
        return;
    }
    let at = lots.iter().position(|l| before(&lot, l)).unwrap_or(lots.len());
    lots.insert(at, lot);
}

fn drain_expired(lots: &mut Vec<Lot>, day: Days, out: &mut Vec<Lot>) -> i64 {
    let mut removed = 0;
    lots.retain(|lot| {
        if lot.expiry < day {
            removed += lot.quantity;
            out.push(lot.clone());
            false
        } else {
            true
        }
    });
    removed
}

/// Integer pick weights with O(log n) update and weighted draw (a Fenwick tree). Integers keep the
/// sums exact, so a shelf of weight 0 can never be drawn.
#[derive(Debug, Default)]
pub(super) struct PickIndex {
    weights: Vec<u64>,
    tree: Vec<u64>,
}

impl PickIndex {
    /// An index over `weights`, built in O(n).
    pub fn new(weights: Vec<u64>) -> PickIndex {
        let mut tree = vec![0u64; weights.len() + 1];
        for (i, &weight) in weights.iter().enumerate() {
            let node = i + 1;
            tree[node] += weight;
            let parent = node + (node & node.wrapping_neg());
            if parent < tree.len() {
                tree[parent] += tree[node];
            }
        }
        PickIndex { weights, tree }
    }

    /// Sum of all weights.
    pub fn total(&self) -> u64 {
        let mut node = self.weights.len();
        let mut sum = 0;
        while node > 0 {
            sum += self.tree[node];
            node &= node - 1;
        }
        sum
    }

    /// Sets the weight of item `i`.
    pub fn set(&mut self, i: usize, weight: u64) {
        let old = self.weights[i];
        if old == weight {
            return;
        }
        self.weights[i] = weight;
        let mut node = i + 1;
        while node < self.tree.len() {
            self.tree[node] = self.tree[node].wrapping_add(weight).wrapping_sub(old);
            node += node & node.wrapping_neg();
        }
    }

    /// The item whose cumulative weight range holds `target` (`target < total()`): the first `i`
    /// with `w[0] + … + w[i] > target`. Items of weight 0 own no range.
    pub fn find(&self, mut target: u64) -> usize {
        let mut node = 0;
        let mut step = (self.tree.len().max(1)).next_power_of_two();
        while step > 0 {
            let next = node + step;
            if next < self.tree.len() && self.tree[next] <= target {
                node = next;
                target -= self.tree[next];
            }
            step >>= 1;
        }
        node.min(self.weights.len().saturating_sub(1))
    }
}
