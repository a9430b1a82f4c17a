//! One send at a time per chat. The outbox worker keeps several requests in flight; on
//! Messenger and Zalo, two messages of one turn sent at once could arrive in the wrong order
//! (and the numbered choices remembered would be those of whichever finished last). The
//! adapters take this lock around each delivery; waiters are served in the order they asked,
//! which is the order the worker started them (by priority, then queue order).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

/// Per-chat locks, forgotten once nobody holds or waits for them.
#[derive(Clone, Default)]
pub struct ChatLocks {
    locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

/// Held while one message goes to a chat.
pub struct ChatGuard {
    guard: Option<OwnedMutexGuard<()>>,
    chat: String,
    locks: ChatLocks,
}

impl ChatLocks {
    /// Waits for the chat's turn.
    pub async fn lock(&self, chat: &str) -> ChatGuard {
        let lock = {
            let mut map = self.locks.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(chat.to_string()).or_default().clone()
        };
        let guard = lock.lock_owned().await;
        ChatGuard {
            guard: Some(guard),
            chat: chat.to_string(),
            locks: self.clone(),
        }
    }

    /// Chats with a lock in use (for tests).
    pub fn in_use(&self) -> usize {
        self.locks.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl Drop for ChatGuard {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self.locks.locks.lock().unwrap_or_else(|e| e.into_inner());
        // Only the map holds it: nobody waits, so forget it.
        if map
            .get(&self.chat)
            .is_some_and(|l| Arc::strong_count(l) == 1)
        {
            map.remove(&self.chat);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_at_a_time_per_chat_and_forgotten_after() {
        let locks = ChatLocks::default();
        let a = locks.lock("a").await;
        let _b = locks.lock("b").await;
        let waiting = {
            let locks = locks.clone();
            tokio::spawn(async move {
                let _g = locks.lock("a").await;
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "waits for the first");
        drop(a);
        waiting.await.expect("ran");
        assert_eq!(locks.in_use(), 1, "only b is left");
    }
}
