//! Rate limits, decided at the moment of sending. The worker asks [`Limiter::try_acquire`]
//! for each row it is about to send; the answer is "go" (the slots are taken) or "not before
//! this time", and nothing is consumed for a message that does not go. A chat that has to
//! wait never holds back messages to other chats.
//!
//! - Every limit is a sliding window (at most `n` requests in any `window`), which is how
//!   Telegram counts: 30 per second overall, 1 per second per chat (private chats and groups
//!   alike), and on top 20 per minute per group. A GCRA bucket cannot say that exactly: with
//!   a burst of 20 it lets a 21st through 3 s later (a 429), without one it spaces a group's
//!   30 messages over 87 s instead of 60, and a send that is a little late pushes every later
//!   one back, so the rate is never quite reached.
//! - On top, a governor GCRA limiter paces requests at twice the platform-wide rate, so the
//!   window is filled smoothly and never by one burst (which network jitter could reorder
//!   into the next window on the platform's side).
//! - Answers to button presses post nothing in a chat: they have a budget of their own and
//!   never wait behind messages.
//! - A 429 with `retry_after` pauses one chat or, when the platform says so, everything.
//! - A paid broadcast (Telegram's `allow_paid_broadcast`) may go faster: its messages
//!   ([`Limiter::try_acquire_paid`]) count against a window of their own rate over every
//!   message (1000 per second), paced apart, while other messages keep the platform-wide
//!   rate (and count in the paid window too). The chat's windows apply to both.
//!
//! Time comes from an injected clock, so tests move it by hand.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock as GovClock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use crate::clock::{Millis, SharedClock};

/// What a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// A new message or an edit: the platform-wide rate and the chat's windows.
    Message,
    /// An answer to a button press: its own budget only (it posts nothing in a chat, and
    /// must not wait behind a broadcast for the platform-wide rate).
    Answer,
}

/// One platform's limits. `None` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlatformLimits {
    /// Requests per second over all chats (Telegram: 30).
    pub global_per_sec: Option<u32>,
    /// Messages to one chat, private or group, per `private_window_ms` (Telegram: 1 per
    /// second in any chat; short bursts are tolerated, hence a window of a few seconds by
    /// default). Groups are held to this and to `group_max` both.
    pub private_max: Option<u32>,
    /// The window of `private_max`.
    pub private_window_ms: u64,
    /// Messages to one group per `group_window_ms` (Telegram: 20 per minute).
    pub group_max: Option<u32>,
    /// The window of `group_max`.
    pub group_window_ms: u64,
    /// Answers to button presses per second, apart from messages (Telegram documents no
    /// limit for them; a press must be answered within seconds).
    pub answers_per_sec: Option<u32>,
    /// Safety margin, as a fraction (0.02 = 2%): every window is this much longer than the
    /// platform's (by at most [`MAX_PAD_MS`]), so network jitter cannot push one request too
    /// many into a window on the platform's side.
    pub margin: f64,
}

/// The most any window is padded by the margin: jitter is milliseconds, so a minute's
/// window needs no more than a second's.
pub const MAX_PAD_MS: u64 = 100;

impl PlatformLimits {
    /// No limits (the console, benchmarks of the queue itself).
    pub fn unlimited() -> PlatformLimits {
        PlatformLimits {
            global_per_sec: None,
            private_max: None,
            private_window_ms: 1000,
            group_max: None,
            group_window_ms: 60_000,
            answers_per_sec: None,
            margin: 0.0,
        }
    }

    /// Every limit multiplied by `factor` (benchmarks run Telegram ×10 on both sides).
    pub fn scaled(self, factor: u32) -> PlatformLimits {
        let f = factor.max(1);
        PlatformLimits {
            global_per_sec: self.global_per_sec.map(|g| g * f),
            private_max: self.private_max.map(|m| m * f),
            group_max: self.group_max.map(|m| m * f),
            answers_per_sec: self.answers_per_sec.map(|m| m * f),
            ..self
        }
    }
}

/// A governor clock over the injected clock (millisecond resolution).
#[derive(Clone)]
struct InjectedClock(SharedClock);

impl GovClock for InjectedClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        Duration::from_millis(self.0.now_ms().max(0) as u64)
    }
}

type Global = RateLimiter<NotKeyed, InMemoryState, InjectedClock, NoOpMiddleware<Duration>>;

/// Why a request may not go now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// The chat's window is full (or the chat was told to wait): try at this time.
    Chat(Millis),
    /// The platform-wide rate (or a platform-wide pause): nothing goes before this time.
    Global(Millis),
}

/// The sending times of one chat in its current window, and a pause if the platform asked.
#[derive(Default)]
struct ChatState {
    sends: VecDeque<Millis>,
    paused_until: Millis,
}

/// The limits of one platform, as the worker applies them.
pub struct Limiter {
    limits: PlatformLimits,
    clock: SharedClock,
    /// Paces requests at twice the platform-wide rate.
    pacer: Option<Global>,
    /// When the last platform-wide requests went (at most the window's count).
    global_sends: VecDeque<Millis>,
    /// When the last answers to button presses went.
    answer_sends: VecDeque<Millis>,
    paused_until: Millis,
    chats: HashMap<String, ChatState>,
    last_cleanup: Millis,
    /// Paid broadcasts: messages per second over every message, when the account has them.
    paid_per_sec: Option<u32>,
    /// When the last messages of any kind finished (at most `paid_per_sec`), for the paid
    /// rate.
    all_sends: VecDeque<Millis>,
    /// Messages of any kind sent and not finished yet: they count in the paid window until
    /// they finish, so a request held up on its way (a loaded machine, the network) can
    /// never reach the platform inside a window the limiter thought was over.
    in_flight: usize,
    /// Paces paid messages at twice the paid rate.
    paid_pacer: Option<Global>,
}

/// A pacer letting one request through every half period of `per_sec`, in bursts of up to
/// 5 ms of that pace (one request below 100/s): a worker woken by a millisecond timer
/// would otherwise send one request per wake-up, about half of 1,000/s.
fn pacer(per_sec: u32, clock: &SharedClock) -> Option<Global> {
    let period_ns = (1e9 / (2.0 * f64::from(per_sec.max(1)))) as u64;
    let burst = NonZeroU32::new(per_sec / 100).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(Duration::from_nanos(period_ns.max(1)))
        .map(|q| q.allow_burst(burst))
        .map(|q| RateLimiter::direct_with_clock(q, InjectedClock(clock.clone())))
}

impl Limiter {
    /// A limiter for `limits`, reading time from `clock`.
    pub fn new(limits: PlatformLimits, clock: SharedClock) -> Limiter {
        let pacer = limits.global_per_sec.and_then(|n| pacer(n, &clock));
        Limiter {
            limits,
            clock,
            pacer,
            global_sends: VecDeque::new(),
            answer_sends: VecDeque::new(),
            paused_until: 0,
            chats: HashMap::new(),
            last_cleanup: 0,
            paid_per_sec: None,
            all_sends: VecDeque::new(),
            in_flight: 0,
            paid_pacer: None,
        }
    }

    /// Lets paid broadcasts go at `per_sec` messages per second over every message.
    pub fn enable_paid(&mut self, per_sec: u32) {
        self.paid_per_sec = Some(per_sec.max(1));
        self.paid_pacer = pacer(per_sec, &self.clock);
    }

    /// When the paid window (every message) has room for one more; now without paid mode.
    fn paid_ready_at(&mut self, now: Millis) -> Millis {
        let Some(max) = self.paid_per_sec else {
            return now;
        };
        let window = self.padded(1000);
        let sends = &mut self.all_sends;
        while sends.front().is_some_and(|t| now - t >= window) {
            sends.pop_front();
        }
        let count = sends.len() + self.in_flight;
        if count < max as usize {
            return now;
        }
        // The oldest finished message that must leave the window before one more fits; when
        // those are all in flight, soon.
        match sends.get(count - max as usize) {
            Some(t) => t + window,
            None => now + 1,
        }
    }

    /// One request that took its slots is over (sent, refused or given up): with paid
    /// mode, it now counts in the paid window from this moment.
    pub fn finished(&mut self) {
        if self.paid_per_sec.is_some() && self.in_flight > 0 {
            self.in_flight -= 1;
            let now = self.now();
            self.all_sends.push_back(now);
        }
    }

    /// Takes the slots for one message of a paid broadcast to `chat` (the chat's windows and
    /// the paid rate), or says when to try again. Without paid mode it is an ordinary
    /// message.
    pub fn try_acquire_paid(&mut self, chat: &str, is_group: bool) -> Result<(), Wait> {
        if self.paid_per_sec.is_none() {
            return self.try_acquire(chat, is_group, CallKind::Message);
        }
        let now = self.now();
        if self.paused_until > now {
            return Err(Wait::Global(self.paused_until));
        }
        let ready = self.chat_ready_at(chat, is_group);
        if ready > now {
            return Err(Wait::Chat(ready));
        }
        let paid_ready = self.paid_ready_at(now);
        if paid_ready > now {
            return Err(Wait::Global(paid_ready));
        }
        if let Some(pacer) = &self.paid_pacer
            && let Err(not_until) = pacer.check()
        {
            let wait = not_until.wait_time_from(Duration::from_millis(now.max(0) as u64));
            return Err(Wait::Global(now + (wait.as_millis() as Millis).max(1)));
        }
        self.in_flight += 1;
        self.take_chat(chat, is_group, now);
        Ok(())
    }

    /// The limits applied.
    pub fn limits(&self) -> &PlatformLimits {
        &self.limits
    }

    /// Now, on the limiter's clock.
    pub fn now(&self) -> Millis {
        self.clock.now_ms()
    }

    /// A window padded with the safety margin.
    fn padded(&self, window: u64) -> Millis {
        let pad = (window as f64 * self.limits.margin.max(0.0)).ceil() as u64;
        (window + pad.min(MAX_PAD_MS)) as Millis
    }

    /// When a sliding window of `max` per `window` over `sends` has room for one more.
    fn window_ready_at(
        sends: &mut VecDeque<Millis>,
        max: u32,
        window: Millis,
        now: Millis,
    ) -> Millis {
        while sends.front().is_some_and(|t| now - t >= window) {
            sends.pop_front();
        }
        if sends.len() >= max as usize {
            sends[sends.len() - max as usize] + window
        } else {
            now
        }
    }

    /// When the platform-wide window has room for one more request.
    fn global_ready_at(&mut self, now: Millis) -> Millis {
        let Some(max) = self.limits.global_per_sec else {
            return now;
        };
        let window = self.padded(1000);
        Limiter::window_ready_at(&mut self.global_sends, max, window, now)
    }

    /// The windows a chat's messages count against: every chat's own, and a group's.
    fn windows(&self, is_group: bool) -> Vec<(u32, Millis)> {
        let mut w = Vec::with_capacity(2);
        if let Some(max) = self.limits.private_max {
            w.push((max, self.padded(self.limits.private_window_ms)));
        }
        if is_group && let Some(max) = self.limits.group_max {
            w.push((max, self.padded(self.limits.group_window_ms)));
        }
        w
    }

    /// The longest window any chat counts against.
    fn longest_window(&self) -> Millis {
        self.padded(
            self.limits
                .private_window_ms
                .max(self.limits.group_window_ms),
        )
    }

    /// When `chat` has a free slot (now or later), without taking it.
    pub fn chat_ready_at(&self, chat: &str, is_group: bool) -> Millis {
        let now = self.now();
        let Some(state) = self.chats.get(chat) else {
            return now;
        };
        let mut at = now.max(state.paused_until);
        for (max, window) in self.windows(is_group) {
            let recent: Vec<Millis> = state
                .sends
                .iter()
                .copied()
                .filter(|t| now - t < window)
                .collect();
            if recent.len() >= max as usize {
                // The oldest send that must leave the window before one more fits.
                let oldest = recent[recent.len() - max as usize];
                at = at.max(oldest + window);
            }
        }
        at
    }

    /// Takes the slots for one request to `chat`, or says when to try again. Nothing is
    /// consumed when the answer is to wait.
    pub fn try_acquire(&mut self, chat: &str, is_group: bool, kind: CallKind) -> Result<(), Wait> {
        let now = self.now();
        if self.paused_until > now {
            return Err(Wait::Global(self.paused_until));
        }
        if kind == CallKind::Answer {
            // Answers: their own budget, nothing else.
            if let Some(max) = self.limits.answers_per_sec {
                let window = self.padded(1000);
                let ready = Limiter::window_ready_at(&mut self.answer_sends, max, window, now);
                if ready > now {
                    return Err(Wait::Chat(ready));
                }
                self.answer_sends.push_back(now);
            }
            return Ok(());
        }
        let ready = self.chat_ready_at(chat, is_group);
        if ready > now {
            return Err(Wait::Chat(ready));
        }
        let global_ready = self.global_ready_at(now).max(self.paid_ready_at(now));
        if global_ready > now {
            return Err(Wait::Global(global_ready));
        }
        if let Some(pacer) = &self.pacer
            && let Err(not_until) = pacer.check()
        {
            let wait = not_until.wait_time_from(Duration::from_millis(now.max(0) as u64));
            return Err(Wait::Global(now + (wait.as_millis() as Millis).max(1)));
        }
        if self.limits.global_per_sec.is_some() {
            self.global_sends.push_back(now);
        }
        if self.paid_per_sec.is_some() {
            self.in_flight += 1;
        }
        self.take_chat(chat, is_group, now);
        Ok(())
    }

    /// Records a message to `chat` at `now` in its windows.
    fn take_chat(&mut self, chat: &str, is_group: bool, now: Millis) {
        if !self.windows(is_group).is_empty() {
            let longest = self.longest_window();
            let state = self.chats.entry(chat.to_string()).or_default();
            while state.sends.front().is_some_and(|t| now - t >= longest) {
                state.sends.pop_front();
            }
            state.sends.push_back(now);
        }
        self.cleanup(now);
    }

    /// The platform said to wait `seconds`: for one chat, or for everything when `global`.
    pub fn pause(&mut self, chat: &str, seconds: u64, global: bool) {
        let until = self.now() + seconds as Millis * 1000;
        if global {
            self.paused_until = self.paused_until.max(until);
        } else {
            let state = self.chats.entry(chat.to_string()).or_default();
            state.paused_until = state.paused_until.max(until);
        }
    }

    /// When everything may go again after a platform-wide pause.
    pub fn paused_until(&self) -> Millis {
        self.paused_until
    }

    /// Forgets chats whose windows and pauses are over, so a million recipients do not stay
    /// in memory.
    fn cleanup(&mut self, now: Millis) {
        if now - self.last_cleanup < 10_000 && self.chats.len() < 100_000 {
            return;
        }
        self.last_cleanup = now;
        let longest = self.longest_window();
        self.chats.retain(|_, s| {
            s.paused_until > now || s.sends.back().is_some_and(|t| now - t < longest)
        });
        self.chats.shrink_to_fit();
    }

    /// Chats remembered (tests of the cleanup).
    pub fn tracked_chats(&self) -> usize {
        self.chats.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;

    fn limiter(limits: PlatformLimits) -> (Limiter, ManualClock) {
        let clock = ManualClock::at(1_000_000);
        (Limiter::new(limits, Arc::new(clock.clone())), clock)
    }

    #[test]
    fn the_global_rate_holds_over_any_second_and_is_reached() {
        let (mut l, clock) = limiter(crate::platform::telegram::limits(1));
        let mut sent = Vec::new();
        // Over ten simulated seconds, one request per millisecond is offered.
        for i in 0..10_000 {
            if l.try_acquire(&format!("{i}"), false, CallKind::Message)
                .is_ok()
            {
                sent.push(i);
            }
            clock.advance_ms(1);
        }
        for w in sent.windows(31) {
            assert!(w[30] - w[0] >= 1000, "31 requests within a second");
        }
        // The margin (2%) is all that is lost.
        assert!(sent.len() >= 290, "{}", sent.len());
        // Never two requests closer than the pacing (half the average spacing).
        for w in sent.windows(2) {
            assert!(w[1] - w[0] >= 16, "{w:?}");
        }
    }

    #[test]
    fn a_full_group_waits_without_holding_back_others() {
        let (mut l, clock) = limiter(crate::platform::telegram::limits(1));
        let mut group = Vec::new();
        // For 30 s, the group is offered a message every 40 ms.
        for i in 0..750 {
            if l.try_acquire("-1", true, CallKind::Message).is_ok() {
                group.push(i * 40);
            }
            clock.advance_ms(40);
        }
        // One per second (with the margin), and 20 in the minute.
        assert_eq!(group.len(), 20, "{group:?}");
        for w in group.windows(2) {
            assert!(w[1] - w[0] >= 1000, "{w:?}");
        }
        match l.try_acquire("-1", true, CallKind::Message) {
            Err(Wait::Chat(at)) => assert!(at >= 1_000_000 + 60_000, "{at}"),
            other => panic!("{other:?}"),
        }
        // Other chats still go, and the refused group took no global slot.
        assert!(l.try_acquire("7", false, CallKind::Message).is_ok());
        // A private chat gets one message per second.
        clock.advance_ms(40);
        assert!(matches!(
            l.try_acquire("7", false, CallKind::Message),
            Err(Wait::Chat(_))
        ));
        // Answers to button presses do not count against the chat.
        assert!(l.try_acquire("7", false, CallKind::Answer).is_ok());
    }

    #[test]
    fn answers_have_their_own_budget_beside_a_full_global_window() {
        let (mut l, clock) = limiter(crate::platform::telegram::limits(1));
        let mut messages = 0;
        for i in 0..100 {
            if l.try_acquire(&i.to_string(), false, CallKind::Message)
                .is_ok()
            {
                messages += 1;
            }
            clock.advance_ms(1);
        }
        assert!(messages < 30, "{messages}");
        // The message budget is spent (or paced); answers still go, up to their own 100/s.
        let mut answers = 0;
        for _ in 0..150 {
            if l.try_acquire("7", false, CallKind::Answer).is_ok() {
                answers += 1;
            }
        }
        assert_eq!(answers, 100);
        assert!(matches!(
            l.try_acquire("8", false, CallKind::Message),
            Err(Wait::Global(_))
        ));
    }

    #[test]
    fn retry_after_pauses_a_chat_or_everything() {
        let (mut l, clock) = limiter(PlatformLimits::unlimited());
        l.pause("5", 3, false);
        assert!(matches!(
            l.try_acquire("5", false, CallKind::Message),
            Err(Wait::Chat(_))
        ));
        assert!(l.try_acquire("6", false, CallKind::Message).is_ok());
        l.pause("6", 2, true);
        assert!(matches!(
            l.try_acquire("6", false, CallKind::Message),
            Err(Wait::Global(_))
        ));
        clock.advance_ms(3000);
        assert!(l.try_acquire("5", false, CallKind::Message).is_ok());
    }

    #[test]
    fn idle_chats_are_forgotten() {
        let (mut l, clock) = limiter(PlatformLimits {
            global_per_sec: None,
            ..crate::platform::telegram::limits(1)
        });
        for i in 0..5000 {
            l.try_acquire(&i.to_string(), false, CallKind::Message)
                .expect("no limit reached");
        }
        clock.advance_ms(120_000);
        l.try_acquire("x", false, CallKind::Message).expect("free");
        assert!(l.tracked_chats() <= 1, "{}", l.tracked_chats());
    }

    #[test]
    fn a_paid_message_holds_its_slot_until_it_finishes() {
        let (mut l, clock) = limiter(PlatformLimits {
            margin: 0.0,
            ..crate::platform::telegram::limits(1)
        });
        l.enable_paid(100);
        for i in 0..100 {
            l.try_acquire_paid(&format!("p{i}"), false)
                .expect("room in the paid window");
            clock.advance_ms(5);
        }
        // All 100 still on their way two seconds later: none may go yet.
        clock.advance_ms(2_000);
        assert!(matches!(
            l.try_acquire_paid("late", false),
            Err(Wait::Global(_))
        ));
        // One arrives: a second later its slot is free, not before.
        l.finished();
        clock.advance_ms(999);
        assert!(l.try_acquire_paid("late", false).is_err());
        clock.advance_ms(1);
        assert!(l.try_acquire_paid("late", false).is_ok());
    }

    #[test]
    fn paid_messages_go_at_the_paid_rate_and_others_keep_theirs() {
        let (mut l, clock) = limiter(crate::platform::telegram::limits(1));
        l.enable_paid(1000);
        let (mut paid, mut free) = (Vec::new(), Vec::new());
        // Over five simulated seconds, every millisecond a paid message and an ordinary one
        // (to new chats) are offered.
        for i in 0..5_000i64 {
            if l.try_acquire_paid(&format!("p{i}"), false).is_ok() {
                paid.push(i);
                l.finished();
            }
            if l.try_acquire(&format!("f{i}"), false, CallKind::Message)
                .is_ok()
            {
                free.push(i);
                l.finished();
            }
            clock.advance_ms(1);
        }
        let mut all: Vec<i64> = paid.iter().chain(&free).copied().collect();
        all.sort_unstable();
        for w in all.windows(1001) {
            assert!(w[1000] - w[0] >= 1000, "1001 messages within a second");
        }
        for w in free.windows(31) {
            assert!(w[30] - w[0] >= 1000, "31 ordinary messages within a second");
        }
        // The pacer halves the millisecond offers; the paid rate is far above 30/s.
        assert!(paid.len() >= 2_000, "{}", paid.len());
        assert!(free.len() >= 140, "{}", free.len());
        // The chat's own window still holds for paid messages.
        clock.advance_ms(2_000);
        assert!(l.try_acquire_paid("same", false).is_ok());
        clock.advance_ms(10);
        assert!(matches!(
            l.try_acquire_paid("same", false),
            Err(Wait::Chat(_))
        ));
        // Without paid mode, a paid message is an ordinary one.
        let (mut plain, _clock) = limiter(crate::platform::telegram::limits(1));
        let went = (0..100)
            .filter(|i| plain.try_acquire_paid(&i.to_string(), false).is_ok())
            .count();
        assert_eq!(went, 1, "paced like any message");
    }
}
