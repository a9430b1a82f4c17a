//! Telegram's rate limits, enforced over sliding windows when a test turns them on, and
//! the Stars paid broadcasts cost.
//!
//! Paid broadcasts (core.telegram.org/bots/faq; `allow_paid_broadcast` in the Bot API): a
//! message sent with `allow_paid_broadcast: true` may go at up to 1000 messages per second
//! (counted over every message the bot sends), and costs 0.1 Star when it goes above the free
//! 30 messages per second, that is when 30 or more messages went in the second before it;
//! only successful sends are billed. Other messages keep 30 per second (counted over
//! themselves, so a bot's replies still go during a paid broadcast). The per-chat (1/s) and
//! per-group (20/min) rules hold for every message.

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
    /// Messages per second over all chats when sent with `allow_paid_broadcast` (Telegram:
    /// 1000). `None`: the flag is ignored (a bot without paid broadcasts).
    pub paid_per_sec: Option<u32>,
}

impl TelegramLimits {
    /// Telegram's documented limits: 30/s overall, 1/s per private chat, 20/min per group.
    pub fn telegram() -> TelegramLimits {
        TelegramLimits {
            global_per_sec: Some(30),
            private_per_sec: Some(1),
            group_per_min: Some(20),
            paid_per_sec: Some(1000),
        }
    }
}

/// The price of one paid message beyond the free rate, in tenths of a Star.
pub const STAR_TENTHS_PER_PAID_MESSAGE: u64 = 1;

#[derive(Default)]
pub(super) struct Windows {
    /// Messages sent without the paid flag in the last second.
    pub(super) global: VecDeque<Instant>,
    /// Every message in the last second (the paid rate, and what is above the free rate).
    pub(super) all: VecDeque<Instant>,
    /// Every chat's sends in the last second.
    pub(super) chats: HashMap<i64, VecDeque<Instant>>,
    /// Every group's sends in the last minute.
    pub(super) groups: HashMap<i64, VecDeque<Instant>>,
}

/// What the limits said about one send.
pub(super) enum Verdict {
    /// It goes; `billed` when it is a paid message above the free rate.
    Go { billed: bool },
    /// 429: retry after this many seconds.
    Wait(u32),
}

/// Checks the limits at `now` for a message to `chat` (`paid`: sent with
/// `allow_paid_broadcast`); records the send when it goes.
pub(super) fn rate_check(inner: &mut Inner, chat: i64, paid: bool, now: Instant) -> Verdict {
    let Some(limits) = inner.limits else {
        return Verdict::Go { billed: false };
    };
    let paid = paid && limits.paid_per_sec.is_some();
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
    if !paid
        && let Some(max) = limits.global_per_sec
        && let Some(s) = wait(&mut inner.windows.global, second, max)
    {
        return Verdict::Wait(s);
    }
    if let Some(max) = limits.paid_per_sec
        && let Some(s) = wait(&mut inner.windows.all, second, max)
    {
        return Verdict::Wait(s);
    }
    // One message per second in any chat, groups included.
    let q = inner.windows.chats.entry(chat).or_default();
    if let Some(max) = limits.private_per_sec
        && let Some(s) = wait(q, second, max)
    {
        return Verdict::Wait(s);
    }
    // And 20 per minute in a group.
    if chat < 0 {
        let g = inner.windows.groups.entry(chat).or_default();
        if let Some(max) = limits.group_per_min
            && let Some(s) = wait(g, minute, max)
        {
            return Verdict::Wait(s);
        }
        g.push_back(now);
    }
    inner.windows.chats.entry(chat).or_default().push_back(now);
    // Above the free rate: as many messages as it allows already went in the last second.
    let free = limits.global_per_sec.unwrap_or(u32::MAX);
    let billed = paid && inner.windows.all.len() as u64 >= u64::from(free);
    if limits.paid_per_sec.is_some() {
        inner.windows.all.push_back(now);
    }
    if !paid && limits.global_per_sec.is_some() {
        inner.windows.global.push_back(now);
    }
    Verdict::Go { billed }
}
