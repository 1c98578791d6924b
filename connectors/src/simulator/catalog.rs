//! The product catalog: the subcategory table `data/catalog-params.tsv` and the products drawn
//! from it (domain §1.1–1.2).
//!
//! The table has one row per subcategory, in catalog order. Its stock ranges already carry the
//! ×1.3 widening of their upper bound (rounded up), so they are used as they are. Every range
//! is half-open, `[lo, hi)`, like numpy's `randint`.

use std::ops::Range;

use rand::seq::IndexedRandom;
use rand::Rng;

/// The subcategory table, embedded at build time.
pub const CATALOG_PARAMS: &str = include_str!("../../../data/catalog-params.tsv");

/// Share of each subcategory's full SKU count that the scaled store carries (rounded up, at
/// least one).
pub const SCALE: f64 = 0.15;

/// Categories whose batch sizes follow the beverage rule (crates and packs).
const BEVERAGE_LIKE: [&str; 6] =
    ["BEVERAGES", "BEERS", "WINES", "LONG-LIFE DAIRY", "HOT BEVERAGES", "VINEGAR AND OIL"];

/// The column names of the table, in order.
const COLUMNS: [&str; 10] = [
    "category",
    "aisle",
    "perishable",
    "subcategory",
    "count_full",
    "count_scaled",
    "store_max_range[lo,hi)",
    "wh_max_rule",
    "price_range_eur",
    "unit_weight",
];

/// Why the subcategory table cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// The header is not the expected column list.
    #[error("catalog table header: expected `{expected}`")]
    Header {
        /// The expected header line.
        expected: String,
    },
    /// A row has a bad cell.
    #[error("catalog table line {line}, column `{column}`: {message}")]
    Cell {
        /// 1-based line number.
        line: usize,
        /// The column name.
        column: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// How a subcategory's warehouse capacity is drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarehouseRule {
    /// The store capacity (at least `min_batches` batches), rounded up to whole batches.
    EqualsStore {
        /// Lower bound in batches.
        min_batches: i64,
    },
    /// Drawn from `range` (at least `min_batches` batches), rounded down to whole batches.
    Range {
        /// Half-open range of units.
        range: Range<i64>,
        /// Lower bound in batches.
        min_batches: i64,
    },
}

impl WarehouseRule {
    /// The lower bound in batches.
    pub fn min_batches(&self) -> i64 {
        match self {
            WarehouseRule::EqualsStore { min_batches }
            | WarehouseRule::Range { min_batches, .. } => *min_batches,
        }
    }
}

/// How a product's unit weight is drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeightRule {
    /// One of these, uniformly.
    Options(Vec<i64>),
    /// A uniform integer in the half-open range.
    Range(Range<i64>),
}

/// One row of the subcategory table.
#[derive(Debug, Clone, PartialEq)]
pub struct Subcategory {
    /// One of the 29 categories.
    pub category: String,
    /// Aisle number, fixed per category.
    pub aisle: i64,
    /// Whether the category is perishable.
    pub perishable: bool,
    /// The subcategory name (names repeat across categories).
    pub name: String,
    /// SKU count of the full-size store.
    pub count_full: u32,
    /// SKU count of the scaled store, `max(1, ceil(0.15 × count_full))`.
    pub count_scaled: u32,
    /// Half-open range of shelf capacities (upper bound already widened ×1.3).
    pub store_max: Range<i64>,
    /// Warehouse capacity rule.
    pub warehouse: WarehouseRule,
    /// Price range in EUR, `U(lo, hi)`.
    pub price: (f64, f64),
    /// Unit weight rule (grams or ml).
    pub weight: WeightRule,
}

/// One product of the scaled catalog (one shelf), before stock is drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    /// Category prefix + subcategory prefix + 4-digit global counter, e.g. `BEVWAT0001`.
    pub shelf_id: String,
    /// Index of its subcategory in the table.
    pub subcategory: usize,
    /// Unit weight in grams (or ml).
    pub item_weight: i64,
    /// Unit price in EUR, 2 decimals.
    pub item_price: f64,
    /// Pieces per supplier batch.
    pub standard_batch_size: i64,
}

/// The scaled SKU count of a subcategory: `max(1, ceil(SCALE × count))`.
pub fn scaled_count(count_full: u32) -> u32 {
    // The product is computed in f64 like the original generator, so rounding matches.
    (f64::from(count_full) * SCALE).ceil().max(1.0) as u32
}

/// Parses the embedded subcategory table.
pub fn subcategories() -> Result<Vec<Subcategory>, CatalogError> {
    parse_subcategories(CATALOG_PARAMS)
}

/// Parses a subcategory table (tab-separated, with the header of `catalog-params.tsv`).
pub fn parse_subcategories(text: &str) -> Result<Vec<Subcategory>, CatalogError> {
    let mut lines = text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty());
    let expected = COLUMNS.join("\t");
    match lines.next() {
        Some((_, header)) if header.trim_end() == expected => {}
        _ => return Err(CatalogError::Header { expected }),
    }
    lines.map(|(index, line)| parse_row(index + 1, line)).collect()
}

/// Parses one data line.
fn parse_row(line: usize, text: &str) -> Result<Subcategory, CatalogError> {
    let cells: Vec<&str> = text.trim_end_matches('\r').split('\t').collect();
    let err = |column: &'static str, message: String| CatalogError::Cell { line, column, message };
    if cells.len() != COLUMNS.len() {
        return Err(err(COLUMNS[0], format!("{} cells, expected {}", cells.len(), COLUMNS.len())));
    }
    let cell = |c: usize| cells[c].trim();
    let int = |c: usize| -> Result<i64, CatalogError> {
        cell(c).parse().map_err(|_| err(COLUMNS[c], format!("`{}` is not an integer", cell(c))))
    };
    let count = |c: usize| -> Result<u32, CatalogError> {
        cell(c).parse().map_err(|_| err(COLUMNS[c], format!("`{}` is not a count", cell(c))))
    };
    let perishable = match cell(2) {
        "True" => true,
        "False" => false,
        other => return Err(err(COLUMNS[2], format!("`{other}` is not True or False"))),
    };
    let count_full = count(4)?;
    let count_scaled = count(5)?;
    if count_scaled != scaled_count(count_full) {
        return Err(err(
            COLUMNS[5],
            format!("{count_scaled} is not max(1, ceil(0.15 × {count_full}))"),
        ));
    }
    let store_max = parse_range(cell(6)).ok_or_else(|| err(COLUMNS[6], bad_range(cell(6))))?;
    let warehouse = parse_warehouse_rule(cell(7))
        .ok_or_else(|| err(COLUMNS[7], format!("`{}` is not a warehouse rule", cell(7))))?;
    let price = parse_price(cell(8))
        .ok_or_else(|| err(COLUMNS[8], format!("`{}` is not a price range lo-hi", cell(8))))?;
    let weight = parse_weight(cell(9))
        .ok_or_else(|| err(COLUMNS[9], format!("`{}` is not a weight rule", cell(9))))?;
    Ok(Subcategory {
        category: cell(0).to_owned(),
        aisle: int(1)?,
        perishable,
        name: cell(3).to_owned(),
        count_full,
        count_scaled,
        store_max,
        warehouse,
        price,
        weight,
    })
}

fn bad_range(text: &str) -> String {
    format!("`{text}` is not a non-empty range [lo,hi)")
}

/// `[lo,hi)` with `0 <= lo < hi`.
fn parse_range(text: &str) -> Option<Range<i64>> {
    let (lo, hi) = text.strip_prefix('[')?.strip_suffix(')')?.split_once(',')?;
    let (lo, hi): (i64, i64) = (lo.trim().parse().ok()?, hi.trim().parse().ok()?);
    (0 <= lo && lo < hi).then_some(lo..hi)
}

/// `equal_store(round_up_to_batch,min_N_batches)` or
/// `range[lo,hi)(round_down_to_batch,min_N_batches)`.
fn parse_warehouse_rule(text: &str) -> Option<WarehouseRule> {
    let (head, options) = text.strip_suffix(')')?.rsplit_once('(')?;
    let (rounding, min) = options.split_once(',')?;
    let min_batches: i64 =
        min.trim().strip_prefix("min_")?.strip_suffix("_batches")?.parse().ok()?;
    if min_batches < 1 {
        return None;
    }
    match (head, rounding.trim()) {
        ("equal_store", "round_up_to_batch") => Some(WarehouseRule::EqualsStore { min_batches }),
        (range, "round_down_to_batch") => {
            let range = parse_range(range.strip_prefix("range")?)?;
            Some(WarehouseRule::Range { range, min_batches })
        }
        _ => None,
    }
}

/// `lo-hi` in EUR with `0 < lo <= hi`.
fn parse_price(text: &str) -> Option<(f64, f64)> {
    let (lo, hi) = text.split_once('-')?;
    let (lo, hi): (f64, f64) = (lo.trim().parse().ok()?, hi.trim().parse().ok()?);
    (lo.is_finite() && hi.is_finite() && 0.0 < lo && lo <= hi).then_some((lo, hi))
}

/// `options a/b/c` or `int range[lo,hi)`.
fn parse_weight(text: &str) -> Option<WeightRule> {
    if let Some(options) = text.strip_prefix("options ") {
        let options: Vec<i64> =
            options.split('/').map(|w| w.trim().parse().ok()).collect::<Option<_>>()?;
        let valid = !options.is_empty() && options.iter().all(|&w| w > 0);
        return valid.then_some(WeightRule::Options(options));
    }
    let range = parse_range(text.strip_prefix("int range")?)?;
    (range.start > 0).then_some(WeightRule::Range(range))
}

/// The shelf_id prefix of a name: its first three characters, upper case, after removing spaces
/// and dashes.
fn prefix(name: &str) -> String {
    name.chars().filter(|c| *c != ' ' && *c != '-').take(3).flat_map(char::to_uppercase).collect()
}

/// Draws the scaled product catalog: `count_scaled` products per subcategory, in table order,
/// numbered by one global counter from 1.
pub fn products<R: Rng + ?Sized>(subcategories: &[Subcategory], rng: &mut R) -> Vec<Product> {
    let mut products = Vec::new();
    for (index, sub) in subcategories.iter().enumerate() {
        let ids = format!("{}{}", prefix(&sub.category), prefix(&sub.name));
        for _ in 0..sub.count_scaled {
            let item_weight = match &sub.weight {
                WeightRule::Options(options) => options.choose(rng).copied().unwrap_or(1),
                WeightRule::Range(range) => rng.random_range(range.clone()),
            };
            let item_price = round_to(rng.random_range(sub.price.0..=sub.price.1), 2);
            let standard_batch_size = batch_size(sub, item_weight, rng);
            products.push(Product {
                shelf_id: format!("{ids}{:04}", products.len() + 1),
                subcategory: index,
                item_weight,
                item_price,
                standard_batch_size,
            });
        }
    }
    products
}

/// Draws the pieces per supplier batch from the rule of the category and the unit weight.
fn batch_size<R: Rng + ?Sized>(sub: &Subcategory, weight: i64, rng: &mut R) -> i64 {
    const BEVERAGE: &[i64] = &[18, 24, 30, 36, 42, 48, 60];
    const FRUIT_LIGHT: &[i64] = &[20, 25, 30, 35, 40];
    const PERISHABLE_LIGHT: &[i64] = &[15, 20, 25, 30, 35, 40];
    const PERISHABLE_MEDIUM: &[i64] = &[8, 10, 11, 12, 14, 15, 16, 18, 20];
    const PERISHABLE_HEAVY: &[i64] = &[8, 10, 11, 12, 14, 15];
    const PERISHABLE_BULK: &[i64] = &[5, 6, 8, 10, 12];
    const OTHER_BULK: &[i64] = &[5, 10, 15, 20];
    let pick = |options: &[i64], rng: &mut R| options.choose(rng).copied().unwrap_or(1);
    // An inclusive range of multiples of `step`.
    let step = |lo: i64, hi: i64, step: i64, rng: &mut R| {
        lo + step * rng.random_range(0..=(hi - lo) / step)
    };
    if BEVERAGE_LIKE.contains(&sub.category.as_str()) {
        pick(BEVERAGE, rng)
    } else if sub.category == "FRUITS AND VEGETABLES" {
        match weight {
            ..=80 => pick(FRUIT_LIGHT, rng),
            81..=300 => rng.random_range(8..=18),
            _ => rng.random_range(8..=12),
        }
    } else if sub.perishable {
        match weight {
            ..=300 => pick(PERISHABLE_LIGHT, rng),
            301..=800 => pick(PERISHABLE_MEDIUM, rng),
            801..=1500 => pick(PERISHABLE_HEAVY, rng),
            _ => pick(PERISHABLE_BULK, rng),
        }
    } else {
        match weight {
            ..=200 => step(20, 80, 5, rng),
            201..=500 => step(20, 60, 5, rng),
            501..=1000 => step(15, 40, 5, rng),
            1001..=2000 => step(10, 30, 5, rng),
            _ => pick(OTHER_BULK, rng),
        }
    }
}

/// `value` rounded half away from zero to `decimals` places.
pub(crate) fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn the_embedded_table_parses_into_278_subcategories_of_29_categories() {
        let subs = subcategories().unwrap();
        assert_eq!(subs.len(), 278);
        let categories: BTreeSet<_> = subs.iter().map(|s| s.category.as_str()).collect();
        assert_eq!(categories.len(), 29);
        assert_eq!(subs.iter().map(|s| s.count_scaled).sum::<u32>(), 1142);
        let perishable: BTreeSet<_> =
            subs.iter().filter(|s| s.perishable).map(|s| s.category.as_str()).collect();
        let expected = ["FISH", "FROZEN", "FRUITS AND VEGETABLES", "MEAT", "REFRIGERATED"];
        assert_eq!(perishable, expected.into_iter().collect());
        // The warehouse equals the store for every perishable category except fruit.
        for sub in &subs {
            let equals = matches!(sub.warehouse, WarehouseRule::EqualsStore { .. });
            let expected = sub.perishable && sub.category != "FRUITS AND VEGETABLES";
            assert_eq!(equals, expected, "{}", sub.name);
            assert_eq!(sub.warehouse.min_batches(), 2);
        }
    }

    #[test]
    fn rows_parse_cell_by_cell() {
        let water = &subcategories().unwrap()[0];
        assert_eq!(water.category, "BEVERAGES");
        assert_eq!(water.aisle, 1);
        assert_eq!(water.name, "Water");
        assert_eq!((water.count_full, water.count_scaled), (53, 8));
        assert_eq!(water.store_max, 20..78);
        assert_eq!(water.warehouse, WarehouseRule::Range { range: 200..650, min_batches: 2 });
        assert_eq!(water.price, (0.5, 2.5));
        assert_eq!(water.weight, WeightRule::Options(vec![500, 750, 1000, 1500, 2000]));
    }

    #[test]
    fn bad_rows_are_errors_with_their_line() {
        let header = COLUMNS.join("\t");
        let row = "BEVERAGES\t1\tFalse\tWater\t53\t8\t[20,78)\trange[200,650)\
                   (round_down_to_batch,min_2_batches)\t0.5-2.5\toptions 500/750";
        assert!(parse_subcategories(&format!("{header}\n{row}\n")).is_ok());
        let broken = [
            row.replace("False", "maybe"),
            row.replace("\t8\t", "\t9\t"),
            row.replace("[20,78)", "[78,20)"),
            row.replace("round_down", "round_sideways"),
            row.replace("0.5-2.5", "cheap"),
            row.replace("options 500/750", "options"),
            row.replace("\tWater", ""),
        ];
        for row in broken {
            let err = parse_subcategories(&format!("{header}\n{row}\n")).unwrap_err();
            assert!(matches!(err, CatalogError::Cell { line: 2, .. }), "{row}: {err}");
        }
        assert!(matches!(parse_subcategories("a\tb\n"), Err(CatalogError::Header { .. })));
    }

    #[test]
    fn products_are_numbered_in_table_order_with_valid_attributes() {
        let subs = subcategories().unwrap();
        let products = products(&subs, &mut ChaCha8Rng::seed_from_u64(42));
        assert_eq!(products.len(), 1142);
        assert_eq!(products[0].shelf_id, "BEVWAT0001");
        assert_eq!(products[51].shelf_id, "BEVSYR0052");
        assert_eq!(products[52].shelf_id, "SPINON0053");
        assert_eq!(products[1141].shelf_id, "FISSMO1142");
        assert_eq!(products[204].shelf_id, "HOUPAP0205");
        assert_eq!(products[1104].shelf_id, "MEAPOR1105");
        assert_eq!(products[1108].shelf_id, "MEAPOR1109");
        let ids: BTreeSet<_> = products.iter().map(|p| p.shelf_id.as_str()).collect();
        assert_eq!(ids.len(), 1142);
        for p in &products {
            let sub = &subs[p.subcategory];
            assert!(sub.price.0 - 0.005 <= p.item_price && p.item_price <= sub.price.1 + 0.005);
            match &sub.weight {
                WeightRule::Options(o) => assert!(o.contains(&p.item_weight)),
                WeightRule::Range(r) => assert!(r.contains(&p.item_weight)),
            }
            assert!((5..=80).contains(&p.standard_batch_size), "{}", p.standard_batch_size);
        }
    }
}
