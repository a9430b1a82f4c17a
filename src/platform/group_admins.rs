//! Asking a platform whether a user administers a group. The engine stays platform-free: it
//! holds a [`GroupAdminRegistry`] and each adapter that can answer registers itself at
//! startup (Telegram through getChatMember). A platform without a checker answers "no", so
//! nothing can be linked there by mistake.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use anyhow::Result;

use crate::domain::Platform;

/// Answers whether `user_id` is an administrator (or the owner) of group `chat_id`.
#[async_trait::async_trait]
pub trait GroupAdmins: Send + Sync {
    /// Whether the user administers the group.
    async fn is_chat_admin(&self, chat_id: &str, user_id: &str) -> Result<bool>;
}

/// The checkers of every platform, shared by all clones of the engine.
#[derive(Clone, Default)]
pub struct GroupAdminRegistry(Arc<RwLock<HashMap<Platform, Arc<dyn GroupAdmins>>>>);

impl GroupAdminRegistry {
    /// Sets the checker of `platform`.
    pub fn register(&self, platform: Platform, checker: Arc<dyn GroupAdmins>) {
        if let Ok(mut map) = self.0.write() {
            map.insert(platform, checker);
        }
    }

    /// Asks `platform`'s checker; false when the platform has none.
    pub async fn is_chat_admin(
        &self,
        platform: Platform,
        chat_id: &str,
        user_id: &str,
    ) -> Result<bool> {
        let checker = match self.0.read() {
            Ok(map) => map.get(&platform).cloned(),
            Err(_) => None,
        };
        match checker {
            Some(c) => c.is_chat_admin(chat_id, user_id).await,
            None => Ok(false),
        }
    }
}
