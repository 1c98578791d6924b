//! The per-key, time-ordered core of every stateful operator (`aggregate`, `distinct`, `top_k`,
//! `alert`, `ledger`, `restock_plan`, `supplier_plan`, key presence): keys are routed to workers
//! by hash, the updates of each key are applied in time order, and the key's output rows are
//! diffed after each closed time.

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
pub use process::{process_by_key, process_sequentially, KeyedInput, SequentialLogic, Step};
