//! Asking a platform whether a user administers a group. The engine stays platform-free: it
//! asks [`Platforms`](super::Platforms), where each account that can answer registers itself
//! at startup (Telegram through getChatMember). A platform without a checker answers "no", so
//! nothing can be linked there by mistake.

use anyhow::Result;

/// Answers whether `user_id` is an administrator (or the owner) of group `chat_id`.
#[async_trait::async_trait]
pub trait GroupAdmins: Send + Sync {
    /// Whether the user administers the group.
    async fn is_chat_admin(&self, chat_id: &str, user_id: &str) -> Result<bool>;
}
