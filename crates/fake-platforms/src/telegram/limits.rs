//! Telegram's rate limits, enforced over sliding windows when a test turns them on.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::server::Inner;

/// Telegram's broadcast limits, enforced when configured. Windows slide over the times
/// requests were received; only send*/copy*/forward* methods count. `None` = no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelegramLimits {
    /// Messages per second over all chats (Telegram: about 30).
    pub global_per_sec: Option<u32>,
    /// Messages per second to one chat, private or group (Telegram: 1 "in a particular
    /// chat"; groups are held to it on top of `group_per_min`).
    pub private_per_sec: Option<u32>,
    /// Messages per minute to one group (negative chat id) (Telegram: 20).
    pub group_per_min: Option<u32>,
}

impl TelegramLimits {
    /// Telegram's documented limits: 30/s overall, 1/s per private chat, 20/min per group.
    pub fn telegram() -> TelegramLimits {
        TelegramLimits {
            global_per_sec: Some(30),
            private_per_sec: Some(1),
            group_per_min: Some(20),
        }
    }
}

#[derive(Default)]
pub(super) struct Windows {
    pub(super) global: VecDeque<Instant>,
    /// Every chat's sends in the last second.
    pub(super) chats: HashMap<i64, VecDeque<Instant>>,
    /// Every group's sends in the last minute.
    pub(super) groups: HashMap<i64, VecDeque<Instant>>,
}

/// Checks the limits at `now`; the seconds to wait when exceeded; records the send otherwise.
pub(super) fn rate_check(inner: &mut Inner, chat: i64, now: Instant) -> Option<u32> {
    let limits = inner.limits?;
    let second = Duration::from_secs(1);
    let minute = Duration::from_secs(60);
    let wait = |q: &mut VecDeque<Instant>, window: Duration, max: u32| -> Option<u32> {
        while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
            q.pop_front();
        }
        if q.len() as u64 >= u64::from(max) {
            let oldest = q.front().copied().unwrap_or(now);
            let left = window.saturating_sub(now.duration_since(oldest));
            Some((left.as_secs_f64().ceil() as u32).max(1))
        } else {
            None
        }
    };
    if let Some(max) = limits.global_per_sec
        && let Some(s) = wait(&mut inner.windows.global, second, max)
    {
        return Some(s);
    }
    // One message per second in any chat, groups included.
    let q = inner.windows.chats.entry(chat).or_default();
    if let Some(max) = limits.private_per_sec
        && let Some(s) = wait(q, second, max)
    {
        return Some(s);
    }
    // And 20 per minute in a group.
    if chat < 0 {
        let g = inner.windows.groups.entry(chat).or_default();
        if let Some(max) = limits.group_per_min
            && let Some(s) = wait(g, minute, max)
        {
            return Some(s);
        }
        g.push_back(now);
    }
    inner.windows.chats.entry(chat).or_default().push_back(now);
    if limits.global_per_sec.is_some() {
        inner.windows.global.push_back(now);
    }
    None
}
