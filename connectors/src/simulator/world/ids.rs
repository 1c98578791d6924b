//! Stable identifiers: UUIDv5 of the seed and the identity of what they name, so a replay with the
//! same seed gives the same ids and two seeds never share one.

use std::io::Write;

use shelfflow_operators::Value;
use uuid::Uuid;

/// The namespace of every simulator id (a fixed random UUID).
const NAMESPACE: Uuid = Uuid::from_u128(0x5f1e_ff10_9a7c_4c1e_8b52_3d0c_6e2a_41b7);

/// The string value of `uuid5(NAMESPACE, "<seed>:<kind>:<sequence>")` for store 1 (the ids of the
/// one-store simulation) and of `"<seed>:s<store>:<kind>:<sequence>"` for the chain's other
/// stores, built without a temporary `String`.
pub(super) fn id(seed: u64, store: i64, kind: &str, sequence: u64) -> Value {
    let mut name = [0u8; 128];
    let unused = {
        let mut cursor = &mut name[..];
        // A u64, a short kind and two colons always fit; on the impossible overflow the id is
        // still unique for the prefix that was written.
        let _ = if store == 1 {
            write!(cursor, "{seed}:{kind}:{sequence}")
        } else {
            write!(cursor, "{seed}:s{store}:{kind}:{sequence}")
        };
        cursor.len()
    };
    let length = name.len() - unused;
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    Value::str(Uuid::new_v5(&NAMESPACE, &name[..length]).hyphenated().encode_lower(&mut text))
}
