//! `supplier_plan`: supplier orders per key at each order cutoff, in whole batches, from on-hand
//! stock, what is already on order and the daily demand (or a demand forecast); followed to
//! delivery by receipts.

mod config;
mod forecast;
mod operator;
#[cfg(test)]
mod tests;

pub use config::{
    DemandFrom, ForecastColumns, ReceiptColumns, SupplierPlanConfig, TriggerColumns, KIND,
};
pub use operator::{plan_supplier_orders, SupplierRules};
