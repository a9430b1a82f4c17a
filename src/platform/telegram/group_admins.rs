//! Whether a user administers a group, through the Bot API's getChatMember.

use anyhow::{Context, Result};
use teloxide::prelude::Requester;
use teloxide::types::{ChatId, UserId};

use super::Telegram;
use crate::platform::group_admins::GroupAdmins;

#[async_trait::async_trait]
impl GroupAdmins for Telegram {
    async fn is_chat_admin(&self, chat_id: &str, user_id: &str) -> Result<bool> {
        let chat: i64 = chat_id.parse().context("a Telegram chat id")?;
        let user: u64 = user_id.parse().context("a Telegram user id")?;
        let member = self
            .bot()
            .get_chat_member(ChatId(chat), UserId(user))
            .await
            .context("Telegram getChatMember failed")?;
        Ok(member.kind.is_privileged())
    }
}
