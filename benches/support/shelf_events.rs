//! Store-shaped and uniform shelf events for the benchmarks, generated deterministically.
#![allow(dead_code)] // each benchmark uses part of it

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{BufWriter, Write};
use std::path::Path;

pub const STORE_SHELVES: usize = 1_142;
pub const UNIFORM_SHELVES: usize = 1_100;
pub const START: i64 = 1_767_250_800; // 2026-01-01T07:00:00Z
pub const OPEN_SECONDS: i64 = 13 * 3_600;
pub const DAY: i64 = 86_400;

/// A small deterministic generator (xorshift64*), so the data is the same on every machine.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Uniform in (0, 1].
    pub fn unit(&mut self) -> f64 {
        ((self.next() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit(), self.unit());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

pub fn rfc3339(seconds: i64) -> impl std::fmt::Display {
    chrono::DateTime::from_timestamp(seconds, 0).expect("valid time").format("%Y-%m-%dT%H:%M:%SZ")
}

fn write_event(
    out: &mut impl Write,
    n: u64,
    kind: &str,
    shelf: usize,
    quantity: i64,
    customer: u64,
    seconds: i64,
) -> std::io::Result<()> {
    writeln!(
        out,
        r#"{{"event_id":"e{n}","event_type":"{kind}","shelf_id":"SH{shelf:05}","quantity":{quantity},"customer_id":"c{customer}","timestamp":"{}"}}"#,
        rfc3339(seconds)
    )
}

fn write_shelves(dir: &Path, maximum: &[i64], initial: &[i64]) -> std::io::Result<()> {
    let mut shelves = BufWriter::new(std::fs::File::create(dir.join("shelves.csv"))?);
    writeln!(shelves, "shelf_id,item_category,maximum_stock,initial_stock")?;
    for (i, (max, init)) in maximum.iter().zip(initial).enumerate() {
        writeln!(shelves, "SH{i:05},CAT{:02},{max},{init}", i % 29)?;
    }
    shelves.flush()
}

/// What happens later to a shelf: a putback after a pickup, or a restock by the staff.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Scheduled {
    at: i64,
    seq: u64,
    shelf: usize,
    /// Putback quantity; 0 for a restock (to capacity, whatever the stock is then).
    quantity: i64,
}

/// The next open second at or after `t` (the store is open 07:00–20:00).
fn open_at(t: i64) -> i64 {
    let into = (t - START).rem_euclid(DAY);
    if into < OPEN_SECONDS {
        t
    } else {
        t - into + DAY
    }
}

/// Store-shaped shelf events: customers arrive through 13 open hours a day and pick up 1–8
/// units from a shelf chosen by lognormal popularity; about one pickup in eight is followed by a
/// putback of part of it within two minutes; a shelf below 40 % of capacity is restocked to
/// capacity 5–30 minutes later. Nights are empty.
pub fn generate_store(dir: &Path, events: usize) -> std::io::Result<()> {
    let mut rng = Rng(42);
    let maximum: Vec<i64> = (0..STORE_SHELVES).map(|_| 20 + rng.below(100) as i64).collect();
    let mut stock = maximum.clone();
    write_shelves(dir, &maximum, &stock)?;
    let weights: Vec<f64> = (0..STORE_SHELVES).map(|_| (1.1 * rng.normal()).exp()).collect();
    let total: f64 = weights.iter().sum();
    let cumulative: Vec<f64> = weights
        .iter()
        .scan(0.0, |acc, w| {
            *acc += w / total;
            Some(*acc)
        })
        .collect();
    // Pickups are ~85 % of all events; space them to fill 7 open days.
    let pickups_per_second = events as f64 * 0.855 / (7 * OPEN_SECONDS) as f64;
    let mut out =
        BufWriter::with_capacity(1 << 20, std::fs::File::create(dir.join("shelf_events.jsonl"))?);
    let mut later: BinaryHeap<Reverse<Scheduled>> = BinaryHeap::new();
    let mut restocking = vec![false; STORE_SHELVES];
    let (mut written, mut seq, mut clock) = (0u64, 0u64, START as f64);
    while written < events as u64 {
        clock += -rng.unit().ln() / pickups_per_second;
        let now = open_at(clock as i64);
        clock = clock.max(now as f64);
        while later.peek().is_some_and(|Reverse(s)| s.at <= now) && written < events as u64 {
            let Reverse(s) = later.pop().expect("peeked");
            let (kind, quantity) = if s.quantity == 0 {
                restocking[s.shelf] = false;
                ("restock", maximum[s.shelf] - stock[s.shelf])
            } else {
                ("putback", s.quantity.min(maximum[s.shelf] - stock[s.shelf]))
            };
            if quantity > 0 {
                stock[s.shelf] += quantity;
                write_event(&mut out, written, kind, s.shelf, quantity, rng.below(5_000), s.at)?;
                written += 1;
            }
        }
        if written >= events as u64 {
            break;
        }
        let pick = rng.unit();
        let shelf = cumulative.partition_point(|&c| c < pick).min(STORE_SHELVES - 1);
        let wanted = if rng.below(5) == 0 { 1 + rng.below(8) } else { 1 + rng.below(3) } as i64;
        let quantity = wanted.min(stock[shelf]);
        if quantity == 0 {
            continue; // an empty shelf: lost demand, no event
        }
        stock[shelf] -= quantity;
        let customer = rng.below(5_000);
        write_event(&mut out, written, "pickup", shelf, quantity, customer, now)?;
        written += 1;
        seq += 1;
        if rng.below(8) == 0 {
            let back = 1 + rng.below(quantity as u64) as i64;
            let at = open_at(now + 5 + rng.below(115) as i64);
            later.push(Reverse(Scheduled { at, seq, shelf, quantity: back }));
        }
        if !restocking[shelf] && stock[shelf] * 10 < maximum[shelf] * 4 {
            restocking[shelf] = true;
            let at = open_at(now + 300 + rng.below(1_500) as i64);
            later.push(Reverse(Scheduled { at, seq, shelf, quantity: 0 }));
        }
    }
    out.flush()
}

/// The older uniform data: 100 events on every second, shelves chosen uniformly; customers
/// pick up (1–3) and put back (1); staff restock a shelf to 80 % soon after it drops below 30 %.
pub fn generate_uniform(dir: &Path, events: usize) -> std::io::Result<()> {
    let mut rng = Rng(42);
    let mut maximum = Vec::with_capacity(UNIFORM_SHELVES);
    let mut stock = Vec::with_capacity(UNIFORM_SHELVES);
    for _ in 0..UNIFORM_SHELVES {
        let max = 20 + rng.below(80) as i64;
        maximum.push(max);
        stock.push(max * 6 / 10);
    }
    write_shelves(dir, &maximum, &stock)?;
    let mut out =
        BufWriter::with_capacity(1 << 20, std::fs::File::create(dir.join("shelf_events.jsonl"))?);
    for n in 0..events as u64 {
        let shelf = rng.below(UNIFORM_SHELVES as u64) as usize;
        let (kind, quantity) = if stock[shelf] * 10 < maximum[shelf] * 3 && rng.below(4) == 0 {
            ("restock", (maximum[shelf] * 8 / 10 - stock[shelf]).max(1))
        } else if rng.below(10) < 8 && stock[shelf] > 0 {
            ("pickup", (1 + rng.below(3) as i64).min(stock[shelf]))
        } else {
            ("putback", 1)
        };
        stock[shelf] += if kind == "pickup" { -quantity } else { quantity };
        write_event(
            &mut out,
            n,
            kind,
            shelf,
            quantity,
            rng.below(5_000),
            START + (n / 100) as i64,
        )?;
    }
    out.flush()
}

/// Generates a data set once (a marker file records the event count).
pub fn ensure(dir: &Path, events: usize, generate: fn(&Path, usize) -> std::io::Result<()>) {
    let marker = dir.join(format!("generated-{events}"));
    if marker.exists() {
        return;
    }
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("bench data dir");
    eprintln!("generating {events} events in {} ...", dir.display());
    generate(dir, events).expect("generate benchmark data");
    std::fs::write(marker, b"").expect("marker");
}
