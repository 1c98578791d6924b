//! The per-key sequential core of the stateful domain operators (`ledger`, `restock_plan`,
//! `supplier_plan`): updates of each key are applied one by one in time order, and the key's
//! output rows are diffed after each closed time.

mod columns;
mod ids;
mod levels;
mod process;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

pub(crate) use columns::{ceil_units, check_reserved, key_in, typed_column, Operand, OperandSpec};
pub(crate) use ids::stable_id;
pub(crate) use levels::Levels;
pub(crate) use process::add_multiplicity;
pub use process::{process_sequentially, KeyedInput, SequentialLogic, Step};
