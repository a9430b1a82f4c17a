//! Display names for platforms whose webhooks carry only an id (Messenger, Zalo). Leaders
//! see members by name (post-check lists), so the name is asked once, when the account is
//! first seen (or still has none), and kept in `people.display_name`.

use std::time::Duration;

/// How long a webhook waits for a name before going on without one.
pub const NAME_TIMEOUT: Duration = Duration::from_millis(1500);

/// Looks up a person's display name on the platform.
#[async_trait::async_trait]
pub trait Profiles: Send + Sync {
    /// The name the platform shows for `user_id`, if it says.
    async fn display_name(&self, user_id: &str) -> Option<String>;
}
