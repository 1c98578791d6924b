//! The chain: its stores (`stores.parquet`) and what each of them starts from.
//!
//! Store 1 is the store of the one-store simulation: it keeps the seed's catalog, stock, random
//! stream and ids, is open around the clock and has size factor 1, so a chain of one is today's
//! store. The other stores share the chain's catalog (a product has the same `shelf_id` in every
//! store) and its weekly promotions, but draw their own capacities, stock, batches and history
//! from their own seed, scaled by their size factor, and have their own opening hours. Every
//! store has its own back-room warehouse (the warehouse of the domain: restock picks reach the
//! shelf three minutes after the pick); suppliers deliver into it.

use rand::seq::IndexedRandom;
use rand::Rng;

use super::generate::{stage_rng, Stage};
use super::reference::Reference;

/// One store of the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreProfile {
    /// 1-based; every event, state, alert, plan and order carries it.
    pub store_id: i64,
    /// e.g. `Harbour 2`.
    pub name: String,
    /// One of [`REGIONS`].
    pub region: String,
    /// Scales shelf and warehouse capacities, stock and customer traffic (store 1: 1.0).
    pub size_factor: f64,
    /// Customers enter from this hour (0–23)...
    pub opens_hour: i64,
    /// ...until the last minute before this hour (1–24).
    pub closes_hour: i64,
}

impl StoreProfile {
    /// `HH:00` of an hour of the day (`24:00` for midnight at the end).
    pub fn hour_text(hour: i64) -> String {
        format!("{hour:02}:00")
    }
}

/// A store and the reference data it starts from.
#[derive(Debug, Clone, PartialEq)]
pub struct Store {
    /// Who it is.
    pub profile: StoreProfile,
    /// Its catalog, stock, batches and the chain's promotions.
    pub reference: Reference,
}

/// Regions the stores are spread over, in turn.
pub const REGIONS: [&str; 4] = ["North", "South", "East", "West"];

const NAMES: [&str; 10] = [
    "Riverside",
    "Harbour",
    "Old Town",
    "Northgate",
    "Parkview",
    "Hillcrest",
    "Market Square",
    "Station Road",
    "Lakeside",
    "Westfield",
];

/// Opening hours of the stores after the first.
const HOURS: [(i64, i64); 4] = [(7, 22), (8, 21), (7, 23), (8, 20)];

/// The most stores `data generate --stores` draws.
pub const MAX_STORES: usize = 10_000;

/// The chain's `count` stores for `seed`: store 1 as described in the module docs, the others
/// with a size factor in 0.5–1.6, the next region in turn and drawn opening hours.
pub fn profiles(seed: u64, count: usize) -> Vec<StoreProfile> {
    let mut rng = stage_rng(seed, Stage::Stores);
    (1..=count as i64)
        .map(|store_id| {
            let name = NAMES[(store_id as usize - 1) % NAMES.len()];
            let region = REGIONS[(store_id as usize - 1) % REGIONS.len()].to_owned();
            if store_id == 1 {
                return StoreProfile {
                    store_id,
                    name: format!("{name} 1"),
                    region,
                    size_factor: 1.0,
                    opens_hour: 0,
                    closes_hour: 24,
                };
            }
            let size_factor = (rng.random_range(0.5..1.6_f64) * 100.0).round() / 100.0;
            let &(opens_hour, closes_hour) = HOURS.choose(&mut rng).expect("not empty");
            StoreProfile {
                store_id,
                name: format!("{name} {store_id}"),
                region,
                size_factor,
                opens_hour,
                closes_hour,
            }
        })
        .collect()
}

/// The seed a store's own draws (stock, batches, history) use: the chain's seed for store 1, a
/// well-mixed other one for the rest.
pub fn store_seed(seed: u64, store_id: i64) -> u64 {
    if store_id == 1 {
        seed
    } else {
        seed ^ (store_id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17)
    }
}

/// `value` scaled by a store's size factor, at least 1 (unchanged for a factor of 1).
pub fn scaled(value: i64, size_factor: f64) -> i64 {
    if size_factor == 1.0 {
        value
    } else {
        ((value as f64 * size_factor).round() as i64).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_one_is_the_one_store_simulation() {
        let chain = profiles(42, 3);
        assert_eq!(chain.len(), 3);
        let first = &chain[0];
        assert_eq!((first.store_id, first.size_factor), (1, 1.0));
        assert_eq!((first.opens_hour, first.closes_hour), (0, 24));
        assert_eq!(store_seed(42, 1), 42);
        assert_eq!(profiles(42, 1)[0], *first, "store 1 does not depend on the chain's size");
    }

    #[test]
    fn the_other_stores_differ_and_are_stable() {
        let chain = profiles(42, 8);
        assert_eq!(chain, profiles(42, 8));
        assert_eq!(&profiles(42, 3)[..], &chain[..3], "adding stores keeps the first ones");
        for store in &chain[1..] {
            assert!((0.5..=1.6).contains(&store.size_factor), "{store:?}");
            assert!(store.opens_hour < store.closes_hour, "{store:?}");
        }
        let seeds: std::collections::HashSet<u64> =
            chain.iter().map(|s| store_seed(42, s.store_id)).collect();
        assert_eq!(seeds.len(), 8);
        assert_eq!(scaled(100, 1.0), 100);
        assert_eq!(scaled(100, 0.55), 55);
        assert_eq!(scaled(1, 0.5), 1);
    }
}
