//! Broadcasts, one feature in one place: the leader's commands (`/broadcast`, `/broadcasts`,
//! confirm, stop) in [`conversation`], the status texts for the author in [`progress`], the
//! scheduler's step that moves a running broadcast's status along in [`step`], and the message
//! keys in [`keys`]. The rows (broadcasts and their audiences) stay with the rest of the SQL in
//! [`crate::store::broadcasts`]; the messages go out through the outbox like any other.

mod conversation;
pub mod keys;
pub mod progress;
mod reach;
pub mod step;
