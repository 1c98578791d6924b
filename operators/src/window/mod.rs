//! `window`: tumbling and hopping event-time windows with an aggregate per window.

mod config;
mod operator;
#[cfg(test)]
mod tests;

pub use config::{WindowConfig, KIND};
pub use operator::{assign_windows, window_starts};
