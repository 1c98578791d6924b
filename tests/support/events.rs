//! Deterministic shelf events for the connector tests (a linear congruential generator, no I/O).

/// `count` shelf events, 50 ms apart from 2026-01-01T08:00:00Z, over 200 shelves and 300
/// customers, as `(shelf id, JSON line)`.
pub fn shelf_events(count: usize) -> Vec<(String, String)> {
    let mut state: u64 = 0x5eed;
    let mut next = move |n: u64| {
        state =
            state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    let start = 1_767_254_400_000i64; // 2026-01-01T08:00:00Z in ms
    (0..count)
        .map(|i| {
            let (kind, quantity) = match next(100) {
                0..60 => ("pickup", 1 + next(3)),
                60..75 => ("putback", 1),
                _ => ("refill", 5 + next(10)),
            };
            let customer = if kind == "refill" {
                "null".to_owned()
            } else {
                format!("\"C{:03}\"", next(300))
            };
            let ts = chrono::DateTime::from_timestamp_millis(start + (i as i64) * 50)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%S%.3fZ");
            let shelf = format!("S{:03}", next(200));
            let line = format!(
                r#"{{"event_id":"e{i}","event_type":"{kind}","shelf_id":"{shelf}","quantity":{quantity},"customer_id":{customer},"timestamp":"{ts}"}}"#
            );
            (shelf, line)
        })
        .collect()
}

/// The events as JSONL text.
pub fn jsonl(events: &[(String, String)]) -> String {
    let mut text = String::with_capacity(events.iter().map(|(_, l)| l.len() + 1).sum());
    for (_, line) in events {
        text.push_str(line);
        text.push('\n');
    }
    text
}
