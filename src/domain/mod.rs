//! Values that parse at the boundary: once one of these exists it is valid.

mod account;
mod fold;
mod locale;
mod payload;
mod platform;
mod state;
mod unit_code;

pub use account::AccountId;
pub use fold::fold;
pub use locale::Locale;
pub use payload::StartPayload;
pub use platform::{ChatAddress, Platform};
pub use state::State;
pub use unit_code::{UnitCode, UnitKind};

/// The database id of a person (one account on one platform).
pub type PersonId = i64;
