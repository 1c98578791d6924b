//! The customer model: how many come each day and when, how long they stay and how much they do.
//! Figures are those of the old foot-traffic and shelf producers (domain §2.3, §2.4).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use shelfflow_operators::value::{Days, Micros, MICROS_PER_DAY};

const MICROS_PER_SECOND: Micros = 1_000_000;
const MICROS_PER_HOUR: Micros = 3_600 * MICROS_PER_SECOND;

/// Weekday names, Monday first.
pub(super) const WEEKDAYS: [&str; 7] =
    ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// The six time slots: first hour, hour after the last (entries end at `hh:59:00` of the slot's
/// last hour), and the label.
pub(super) const SLOTS: [(i64, i64, &str); 6] = [
    (0, 7, "00:00-06:59"),
    (7, 10, "07:00-09:59"),
    (10, 14, "10:00-13:59"),
    (14, 17, "14:00-16:59"),
    (17, 20, "17:00-19:59"),
    (20, 24, "20:00-23:59"),
];

/// Slot weights per weekday, Monday first.
const SLOT_WEIGHTS: [[u32; 6]; 7] = [
    [16, 17, 20, 17, 13, 10],
    [12, 15, 21, 17, 14, 9],
    [15, 16, 25, 22, 17, 12],
    [14, 14, 19, 21, 18, 10],
    [19, 17, 25, 24, 23, 15],
    [22, 24, 27, 22, 20, 18],
    [22, 21, 23, 19, 16, 13],
];

/// Weekday of a date, Monday = 0 (1970-01-01 was a Thursday).
pub(super) fn weekday(day: Days) -> usize {
    (i64::from(day) + 3).rem_euclid(7) as usize
}

/// The slot of a time of day.
pub(super) fn slot_of(time: Micros) -> usize {
    let hour = time.rem_euclid(MICROS_PER_DAY) / MICROS_PER_HOUR;
    SLOTS.iter().position(|&(_, end, _)| hour < end).unwrap_or(SLOTS.len() - 1)
}

fn day_weight(weekday: usize) -> f64 {
    f64::from(SLOT_WEIGHTS[weekday].iter().sum::<u32>())
}

fn average_day_weight() -> f64 {
    (0..7).map(day_weight).sum::<f64>() / 7.0
}

/// At most this many customers a day, whatever the configuration says.
const MAX_DAILY_CUSTOMERS: f64 = 10_000_000.0;

/// Customers of one whole day: `round(base × multiplier × day_weight / avg_day_weight × U(0.9,
/// 1.1))`, between 0 and [`MAX_DAILY_CUSTOMERS`].
pub(super) fn daily_total(rng: &mut ChaCha8Rng, day: Days, base: f64, multiplier: f64) -> u64 {
    let noise = rng.random_range(0.9..1.1);
    let mean = base * multiplier * day_weight(weekday(day)) / average_day_weight();
    let total = (mean * noise).round();
    // NaN and negatives become 0.
    if total > 0.0 {
        total.min(MAX_DAILY_CUSTOMERS) as u64
    } else {
        0
    }
}

/// Splits `total` over the day's slots open during `hours` (`[opens, closes)` in whole hours) in
/// proportion to their weights, by largest remainder (ties to the earlier slot).
pub(super) fn split_by_slot(total: u64, day: Days, hours: (i64, i64)) -> [u64; 6] {
    let mut weights = SLOT_WEIGHTS[weekday(day)];
    for (weight, &(first, end, _)) in weights.iter_mut().zip(&SLOTS) {
        if first >= hours.1 || end <= hours.0 {
            *weight = 0;
        }
    }
    let sum = u64::from(weights.iter().sum::<u32>());
    let mut counts = [0u64; 6];
    if sum == 0 {
        return counts;
    }
    let mut remainders = [(0u64, 0usize); 6];
    for (slot, &weight) in weights.iter().enumerate() {
        let share = total * u64::from(weight);
        counts[slot] = share / sum;
        remainders[slot] = (share % sum, slot);
    }
    let left = total - counts.iter().sum::<u64>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, slot) in remainders.iter().take(left as usize) {
        counts[slot] += 1;
    }
    counts
}

/// Entry times of one day's customers in `[from, until)` and within opening `hours`, unsorted.
///
/// A slot that `from` cuts keeps the share of its customers that the remaining part of it
/// represents (the first, partial day); entries at or after `until` are dropped (the last day).
pub(super) fn entry_times(
    rng: &mut ChaCha8Rng,
    day: Days,
    counts: [u64; 6],
    hours: (i64, i64),
    (from, until): (Micros, Micros),
    out: &mut Vec<Micros>,
) {
    let midnight = i64::from(day) * MICROS_PER_DAY;
    for (slot, &(first_hour, end_hour, _)) in SLOTS.iter().enumerate() {
        let (first_hour, end_hour) = (first_hour.max(hours.0), end_hour.min(hours.1));
        if first_hour >= end_hour {
            continue;
        }
        let slot_start = midnight + first_hour * MICROS_PER_HOUR;
        let slot_end = midnight + end_hour * MICROS_PER_HOUR;
        // Entries are whole seconds in [slot_start, last hour:59:00].
        let last = slot_end - 60 * MICROS_PER_SECOND;
        let mut count = counts[slot];
        let mut low = slot_start;
        if from > slot_start {
            if from > last {
                continue;
            }
            let remaining = (slot_end - from) as f64 / (slot_end - slot_start) as f64;
            count = (count as f64 * remaining).round() as u64;
            // Round up to the next whole second.
            low = slot_start
                + (from - slot_start + MICROS_PER_SECOND - 1) / MICROS_PER_SECOND
                    * MICROS_PER_SECOND;
        }
        let (low_s, last_s) = (low / MICROS_PER_SECOND, last / MICROS_PER_SECOND);
        for _ in 0..count {
            let entry = rng.random_range(low_s..=last_s) * MICROS_PER_SECOND;
            if entry < until {
                out.push(entry);
            }
        }
    }
}

/// Trip duration in minutes: 35 % 10–29, 39 % 30–44, 26 % 45–75.
pub(super) fn trip_minutes(rng: &mut ChaCha8Rng) -> i64 {
    let bucket: f64 = rng.random();
    if bucket < 0.35 {
        rng.random_range(10..=29)
    } else if bucket < 0.74 {
        rng.random_range(30..=44)
    } else {
        rng.random_range(45..=75)
    }
}

/// Number of shelf actions of one trip: 20 % 3–6, 50 % 7–15, 30 % 16–30.
pub(super) fn action_count(rng: &mut ChaCha8Rng) -> usize {
    let bucket: f64 = rng.random();
    if bucket < 0.20 {
        rng.random_range(3..=6)
    } else if bucket < 0.70 {
        rng.random_range(7..=15)
    } else {
        rng.random_range(16..=30)
    }
}

/// Sorted action times of a trip: uniform whole seconds in `[entry + 60 s, exit − 30 s]`.
pub(super) fn action_times(
    rng: &mut ChaCha8Rng,
    entry: Micros,
    exit: Micros,
    count: usize,
    out: &mut Vec<Micros>,
) {
    out.clear();
    let low = (entry + 60 * MICROS_PER_SECOND) / MICROS_PER_SECOND;
    let high = ((exit - 30 * MICROS_PER_SECOND) / MICROS_PER_SECOND).max(low);
    out.extend((0..count).map(|_| rng.random_range(low..=high) * MICROS_PER_SECOND));
    out.sort_unstable();
}

/// Units taken by one pickup: 1 (60 %), 2 (30 %), 3 (10 %).
pub(super) fn pickup_quantity(rng: &mut ChaCha8Rng) -> i64 {
    let bucket: f64 = rng.random();
    if bucket < 0.6 {
        1
    } else if bucket < 0.9 {
        2
    } else {
        3
    }
}
