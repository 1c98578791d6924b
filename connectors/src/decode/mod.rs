//! Record decoding against a typed schema, shared by every file format.
//!
//! - `cell`: the typed-cell parser every format goes through, and the reasons a record is
//!   rejected ([`DecodeError`]).
//! - `json`: the fast schema-driven JSONL decoder and the JSON row renderer of sinks.
//! - `frame`: typing the rows of a polars DataFrame (CSV, Parquet), and building one from rows.

mod cell;
mod frame;
mod json;
#[cfg(test)]
mod tests;

pub use cell::{
    format_time, null_cell, parse_date, parse_text, parse_timestamp, DecodeError, Found,
};
pub use frame::{frame_from_rows, FrameDecoder, FrameError, TimestampColumns};
pub use json::{JsonDecoder, JsonObjects};
