//! Coverage: the figures of every unit and its subtree, read from the counters the store
//! maintains (never counted at query time), daily snapshots for trends, and the tables,
//! charts and exports built from them.
//!
//! - [`figures`]: the pure arithmetic (coverage, member rate, target, gap, trend).
//! - [`view`]: a unit with its children and yesterday's snapshots, ready to show.
//! - [`export`]: rows and localised headers for the xlsx/csv/text renderers in
//!   [`crate::reports`], shared by `/export` and `bluezone-bot report`.
//! - [`cli`]: `bluezone-bot report`.
//! - [`snapshot`]: the task that writes the day's snapshot.
//! - [`reach`]: how the members who have not confirmed can be reached now (free, at a cost,
//!   not at all), as cut-off times the store counts with.

pub mod cli;
pub mod export;
pub mod figures;
pub mod keys;
pub mod reach;
pub mod snapshot;
pub mod view;

pub use figures::{
    Figures, Totals, Trend, coverage_of, effective_target, percent, sort_by_coverage,
};
pub use view::{CoverageView, Row};
