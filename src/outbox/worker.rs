//! The sender worker: one per account. It claims small windows of due rows (highest
//! priority first, so a reply overtakes a running broadcast), checks each row's chat and the
//! platform-wide rate at the moment of sending ([`Limiter`]), keeps several requests in
//! flight, and records outcomes in batches. A row whose chat must wait goes back to the
//! queue (or waits in memory when the wait is short) without taking a slot; other chats keep
//! flowing.
//!
//! Failures are classified by the adapter: a 429 pauses the chat (or the platform) for
//! `retry_after` and the row is retried without counting an attempt; unreachable recipients
//! are marked and never retried; network errors, timeouts and 5xx back off exponentially with
//! jitter up to a number of attempts, then fail.
//!
//! Order: only the first unfinished row of each chat is claimed (the store's rule), so each
//! chat's messages go one at a time in the order they were queued, also after a 429 (the
//! deferred row stays first), a crash or a restart. Answers to button presses are not
//! messages: they skip that rule and the message budget, and are dropped once the platform
//! would refuse them as too old ([`ANSWER_DEADLINE_MS`]).
//!
//! Replies handed over: while a worker runs, the replies queued for its account in this
//! process are claimed in the event's own transaction, by the same rule (an answer, or the
//! first unfinished row of its chat), and handed to the worker's fast lane ([`fast_lane`])
//! once that commits. The fast lane sends each at once when its chat and the platform have a
//! slot, and passes anything that must wait to the main loop; a reply leaves without waiting
//! for a claim, and the main loop's database writes never hold it up.
//!
//! Paid broadcasts: when a broadcast's leader chose [`Spend::PaidSpeed`] and the account has
//! a paid mode ([`Deliver::paid_speed`]), its rows go at the paid rate
//! ([`Limiter::try_acquire_paid`]) with the paid flag ([`Deliver::deliver_paid`]). Each one
//! first reserves its price in the spend ledger under the broadcast
//! ([`crate::reach::broadcast_period`]), against the broadcast's budget; a message that was
//! not sent gives it back. Once the budget is spent, the rest go at the free rate, unbilled.
//! The ledger is in the database, so the budget holds across a crash and a restart.
//!
//! Outages: the first failure of a platform (network, timeout, 5xx) and its recovery are
//! logged once each, with the number of messages waiting.
//!
//! Crash safety: claimed rows are leased; a row left `sending` by a killed process is claimed
//! again when its lease runs out, so nothing is lost, and only rows that were in flight (or
//! sent but not yet recorded) can go twice. A graceful stop finishes requests in flight,
//! records them, and puts the rows it had not started back in the queue.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Result;
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::limits::{CallKind, Limiter, PlatformLimits, Wait};
use crate::backoff::Backoff;
use crate::clock::{Millis, SharedClock};
use crate::domain::ChatAddress;
use crate::platform::{Deliver, DeliveryError, Outgoing};
use crate::reach::{Spend, broadcast_period};
use crate::store::{Completion, Handed, Mark, OutboxRow, Store};

/// Attempts before a transient failure becomes final, by default.
pub const MAX_ATTEMPTS: i64 = 6;

/// How a worker sends.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The platform's limits.
    pub limits: PlatformLimits,
    /// Requests in flight at most.
    pub concurrency: usize,
    /// How long a claimed row is held.
    pub lease_ms: Millis,
    /// Attempts before a transient failure is final.
    pub max_attempts: i64,
    /// The daytime window reminders may go out in, checked again at the moment of sending
    /// (a reminder queued at 19:50 behind a long broadcast waits for the morning).
    pub daytime: Option<Daytime>,
}

/// A local daytime window.
#[derive(Debug, Clone, Copy)]
pub struct Daytime {
    /// The campaign's time zone.
    pub tz: chrono_tz::Tz,
    /// `[start, end)` in minutes after local midnight (it may wrap midnight).
    pub window: (u32, u32),
}

impl Daytime {
    /// How long from `now` until the window opens: 0 inside it.
    pub fn wait_ms(&self, now: Millis) -> Millis {
        use chrono::{TimeZone, Timelike};
        let Some(t) = self.tz.timestamp_millis_opt(now).single() else {
            return 0;
        };
        let minute = t.hour() * 60 + t.minute();
        if crate::clock::in_window(minute, self.window) {
            return 0;
        }
        let minutes = (self.window.0 + 24 * 60 - minute) % (24 * 60);
        let into_minute = i64::from(t.second()) * 1000 + now.rem_euclid(1000);
        (i64::from(minutes) * 60_000 - into_minute).max(1)
    }
}

impl WorkerConfig {
    /// The configuration for a platform with `limits`, from the settings.
    pub fn from_settings(
        settings: &crate::config::Settings,
        limits: PlatformLimits,
    ) -> WorkerConfig {
        let d = &settings.delivery;
        WorkerConfig {
            limits,
            concurrency: d.concurrency,
            lease_ms: d.lease_ms,
            max_attempts: d.max_attempts,
            daytime: Some(Daytime {
                tz: settings
                    .campaign
                    .tz()
                    .unwrap_or(chrono_tz::Asia::Ho_Chi_Minh),
                window: d.reminder_window,
            }),
        }
    }

    /// Rows claimed at a time: about a third of a second of sending (at the paid rate when
    /// the account has one, `paid_per_sec`) so a reply queued during a broadcast waits for
    /// little, never fewer than the requests in flight.
    fn window(&self, paid_per_sec: Option<u32>) -> usize {
        let by_rate = paid_per_sec
            .or(self.limits.global_per_sec)
            .map(|g| (g as usize) / 3)
            .unwrap_or(256);
        by_rate.clamp(self.concurrency.max(4), 256)
    }

    /// Waits shorter than this are waited in memory rather than written back to the queue.
    fn short_wait(&self) -> Millis {
        (self.lease_ms / 4).min(5_000)
    }
}

/// What one call to [`Worker::try_execute_batch`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Rows claimed.
    pub claimed: usize,
    /// Delivered.
    pub sent: usize,
    /// Put back for another attempt after a failure (429, network).
    pub retried: usize,
    /// Put back untouched because their chat (or the platform) had no free slot.
    pub deferred: usize,
    /// Failed, skipped or unreachable for good.
    pub failed: usize,
}

impl Outcome {
    fn count(&mut self, mark: &Mark) {
        match mark {
            Mark::Sent { .. } => self.sent += 1,
            Mark::Retry { .. } => self.retried += 1,
            Mark::Defer { .. } => self.deferred += 1,
            _ => self.failed += 1,
        }
    }
}

/// A claimed row, read and ready to go.
struct Job {
    row: OutboxRow,
    to: ChatAddress,
    message: Arc<Outgoing>,
    /// A message of a paid broadcast whose budget is not spent yet: it goes at the paid rate,
    /// with the paid flag, and reserves its price first.
    paid: bool,
}

/// How long after the press an answer to a button may still go. Telegram refuses answers to
/// queries older than about 15 s ("query is too old and response timeout expired or query ID
/// is invalid"); an answer that could not go by then is dropped, with a margin.
pub const ANSWER_DEADLINE_MS: Millis = 14_000;

/// Whether the platform is failing, so its first failure and its recovery are logged once.
#[derive(Debug, Default)]
struct Outage {
    /// When the first failure of the current outage happened (store time).
    since: Option<Millis>,
    /// Failed requests during the current outage.
    failures: u64,
    /// Outages so far (tests read it through [`Worker::outages`]).
    count: u64,
}

/// How long a broadcast's status is trusted before it is read again.
const STATUS_TTL_MS: Millis = 2_000;

impl Job {
    fn kind(&self) -> CallKind {
        match *self.message {
            Outgoing::AnswerCallback { .. } => CallKind::Answer,
            _ => CallKind::Message,
        }
    }

    /// Takes the job's slots in `limiter` (the paid rate for a paid message).
    fn acquire(&self, limiter: &mut Limiter) -> Result<(), Wait> {
        if self.paid {
            limiter.try_acquire_paid(&self.to.chat_id, self.to.is_group)
        } else {
            limiter.try_acquire(&self.to.chat_id, self.to.is_group, self.kind())
        }
    }
}

/// What the worker knows of a broadcast's spending.
#[derive(Debug, Clone, Copy, Default)]
struct PaidState {
    /// Its leader chose paid speed.
    paid: bool,
    /// Its Star budget is spent: the rest go at the free rate.
    spent: bool,
    /// Price reserved in the ledger in a block and not used yet (tenths of a Star): the
    /// next paid messages take theirs from it without a database write. What is left goes
    /// back when the broadcast's sending pauses ([`PAID_IDLE_MS`]) and when the worker
    /// stops; after a crash it stays reserved, so the budget is never exceeded.
    held: i64,
    /// When a message last took its price from `held` (limiter time).
    used_at: Millis,
}

/// A paid broadcast reserves the price of this fraction of a second of sending at a time.
const PAID_BLOCK_PER_SEC: i64 = 10;

/// A reserved block unused this long goes back to the ledger.
const PAID_IDLE_MS: Millis = 2_000;

struct Shared {
    store: Store,
    deliver: Arc<dyn Deliver>,
    config: WorkerConfig,
    limiter: Mutex<Limiter>,
    /// Broadcast messages by broadcast id: recipients' rows carry no payload of their own.
    payloads: Mutex<HashMap<i64, Arc<Outgoing>>>,
    /// Whether a broadcast was stopped, by id, with when that was read (limiter time).
    stopped: Mutex<HashMap<i64, (Millis, bool)>>,
    /// The platform's current outage, if any.
    outage: Mutex<Outage>,
    /// Whether a broadcast goes at paid speed, by id (read once; accounts with a paid mode).
    paid: Mutex<HashMap<i64, PaidState>>,
    /// One reservation against the ledger at a time, so concurrent sends take one block.
    reserving: tokio::sync::Mutex<()>,
}

/// Sends one platform's outbox. Clones share the limiter and caches.
#[derive(Clone)]
pub struct Worker {
    shared: Arc<Shared>,
    ready: Arc<Notify>,
    /// The longest an idle worker sleeps before it looks at the queue again: a safety net,
    /// since whoever queues wakes it (in-process, or by PostgreSQL `NOTIFY`).
    idle_poll_ms: Millis,
}

/// How long an idle worker sleeps by default before it looks at the queue again.
pub const IDLE_POLL_MS: Millis = 1_000;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Worker {
    /// A worker for `deliver`'s platform at the limits it describes ([`Deliver::limits`]), timed by the
    /// system clock (rate limits are about real seconds even when tests freeze the store's
    /// clock). `ready` wakes it when something is queued.
    pub fn new(store: Store, deliver: Arc<dyn Deliver>, ready: Arc<Notify>) -> Worker {
        let config = WorkerConfig {
            limits: deliver.limits(),
            concurrency: 16,
            lease_ms: crate::store::outbox::LEASE_MS,
            max_attempts: MAX_ATTEMPTS,
            daytime: None,
        };
        Worker::with_config(
            store,
            deliver,
            ready,
            config,
            Arc::new(crate::clock::SystemClock),
        )
    }

    /// A worker with explicit settings; `limit_clock` times the rate limits (the service uses
    /// the system clock even when tests freeze the store's clock).
    pub fn with_config(
        store: Store,
        deliver: Arc<dyn Deliver>,
        ready: Arc<Notify>,
        config: WorkerConfig,
        limit_clock: SharedClock,
    ) -> Worker {
        let mut limiter = Limiter::new(config.limits, limit_clock);
        if let Some(p) = deliver.paid_speed() {
            limiter.enable_paid(p.per_sec);
        }
        let limiter = Mutex::new(limiter);
        Worker {
            shared: Arc::new(Shared {
                store,
                deliver,
                config,
                limiter,
                payloads: Mutex::new(HashMap::new()),
                stopped: Mutex::new(HashMap::new()),
                outage: Mutex::new(Outage::default()),
                paid: Mutex::new(HashMap::new()),
                reserving: tokio::sync::Mutex::new(()),
            }),
            ready,
            idle_poll_ms: IDLE_POLL_MS,
        }
    }

    /// The same worker, sleeping at most `ms` when idle (tests set it long, to see that a
    /// queued reply wakes it).
    pub fn with_idle_poll(mut self, ms: Millis) -> Worker {
        self.idle_poll_ms = ms.max(1);
        self
    }

    /// Wakes the worker: rows were queued.
    pub fn wake(&self) {
        self.ready.notify_waiters();
        self.ready.notify_one();
    }

    /// The account it sends for.
    pub fn account_id(&self) -> &str {
        self.shared.deliver.account_id()
    }

    /// Whether the platform is failing now (since its first failed request, until one
    /// succeeds), and how many outages began so far.
    pub fn outages(&self) -> (bool, u64) {
        let o = lock(&self.shared.outage);
        (o.since.is_some(), o.count)
    }

    /// Claims one window of due rows, sends those whose chat has a free slot now (all at
    /// once, up to the concurrency), puts the others back for when their slot comes, and
    /// records everything. Deterministic under a manual clock: nothing waits.
    pub async fn try_execute_batch(&self) -> Result<Outcome> {
        let s = &self.shared;
        let rows = s
            .store
            .claim_due(
                s.deliver.account_id(),
                s.config.window(None) as i64,
                s.config.lease_ms,
            )
            .await?;
        let mut outcome = Outcome {
            claimed: rows.len(),
            ..Outcome::default()
        };
        let mut done = Vec::new();
        let mut go = Vec::new();
        for row in rows {
            let job = match s.prepare(row).await? {
                Ok(job) => job,
                Err(c) => {
                    done.push(c);
                    continue;
                }
            };
            let acquired = job.acquire(&mut lock(&s.limiter));
            match acquired {
                Ok(()) => go.push(job),
                Err(Wait::Chat(at) | Wait::Global(at)) => done.push(s.defer(&job.row, at)),
            }
        }
        for chunk in go.chunks(s.config.concurrency.max(1)) {
            let sends = chunk.iter().map(|job| s.send(job));
            done.extend(futures::future::join_all(sends).await);
        }
        for c in &done {
            outcome.count(&c.mark);
        }
        s.store.record_outcomes(&done).await?;
        // A batch leaves no paid block reserved behind it.
        s.release_idle_paid(true).await;
        Ok(outcome)
    }

    /// Runs until `shutdown` is cancelled, then finishes the requests in flight, records them
    /// and puts back the rows it had not started. Each turn: [`Sender::collect`] finished
    /// sends, [`Sender::flush`] outcomes, [`Sender::claim`] more rows when they run low,
    /// [`Sender::pick`] the best row whose slot has come and [`Sender::dispatch`] it (or
    /// [`Sender::idle`] until something can go).
    #[tracing::instrument(skip_all, fields(account = %self.shared.deliver.account_id()))]
    pub async fn run(self, shutdown: CancellationToken) {
        let mut sender = Sender::new(self.shared.clone(), self.ready.clone(), self.idle_poll_ms);
        sender.start_lane(&shutdown);
        loop {
            let now = sender.collect();
            sender.take_handed(now).await;
            sender.return_stale(now);
            sender.release_idle_paid(now).await;
            if !sender.flush(now).await {
                continue;
            }
            if shutdown.is_cancelled() {
                break;
            }
            if !sender.claim(now, &shutdown).await {
                continue;
            }
            let Some(i) = sender.pick(now) else {
                sender.idle(now, &shutdown).await;
                continue;
            };
            if sender.dispatch(i, now, &shutdown).await.is_break() {
                break;
            }
            // The other rows whose slot has come go too before the next claim: a claim per
            // row sent would make a trickle of replies wait on the queue's transactions.
            if sender.dispatch_ready(now, &shutdown).await.is_break() {
                break;
            }
        }
        sender.stop().await;
    }
}

/// Every row a running worker holds (pending or in flight) with its latest claim and when it
/// was claimed: a row claimed again (its lease ran out while it waited here) is not taken
/// twice, and its outcome is recorded against the newest claim.
#[derive(Default)]
struct Held(HashMap<i64, (i64, Millis)>);

impl Held {
    /// Whether a freshly claimed row is ours already; if so it takes the newer claim, so
    /// that it is sent once.
    fn renew(&mut self, row: &OutboxRow, now: Millis) -> bool {
        match self.0.get_mut(&row.id) {
            Some(h) => {
                *h = (row.attempts, now);
                true
            }
            None => false,
        }
    }

    /// Holds a claimed row, read and waiting here.
    fn hold(&mut self, row: &OutboxRow, now: Millis) {
        self.0.insert(row.id, (row.attempts, now));
    }

    /// Whether row `id` has waited here longer than `limit` since it was claimed.
    fn older_than(&self, id: i64, now: Millis, limit: Millis) -> bool {
        self.0.get(&id).is_some_and(|(_, at)| now - at > limit)
    }

    /// Gives `row` its latest claim.
    fn restore(&self, row: &mut OutboxRow) {
        if let Some((claim, _)) = self.0.get(&row.id) {
            row.attempts = *claim;
        }
    }

    /// Lets go of `row`, giving it its latest claim.
    fn release(&mut self, row: &mut OutboxRow) {
        self.restore(row);
        self.0.remove(&row.id);
    }

    /// Lets go of the rows of `done`, recording each against its latest claim.
    fn settle(&mut self, done: &mut [Completion]) {
        for c in done {
            if let Some((claim, _)) = self.0.remove(&c.id) {
                c.claim = claim;
            }
        }
    }
}

/// Outcomes wait at most this long to be recorded (ms).
const FLUSH_MS: Millis = 50;

/// An idle sender records its outcomes once they waited this long (ms): a reply's outcome is
/// recorded soon (its chat's next row waits for it), yet a stream of replies, each leaving
/// the sender idle for a moment, is recorded in batches, not one transaction each.
const FLUSH_IDLE_MS: Millis = 10;

/// The state [`Worker::run`] carries from one turn to the next.
struct Sender {
    s: Arc<Shared>,
    ready: Arc<Notify>,
    /// Rows claimed at a time.
    window: usize,
    /// A chat wait up to this long is waited out here rather than in the queue.
    short: Millis,
    /// How long a claim holds a row.
    lease: Millis,
    /// Requests in flight, up to the concurrency.
    semaphore: Arc<Semaphore>,
    /// Finished sends come back through this channel.
    done_tx: mpsc::UnboundedSender<Completion>,
    done_rx: mpsc::UnboundedReceiver<Completion>,
    /// Claimed rows waiting (briefly) for their slot, with the time it comes.
    pending: Vec<(Millis, Job)>,
    held: Held,
    /// When waiting rows were last looked at for staleness (limiter time).
    last_stale_check: Millis,
    /// When reserved paid blocks were last looked at (limiter time).
    last_paid_check: Millis,
    /// When a claim last looked for rows whose lease ran out (limiter time).
    last_expired_check: Millis,
    /// Outcomes not recorded yet.
    done: Vec<Completion>,
    last_flush: Millis,
    /// Claim on the next turn whatever is at hand (woken, or the first turn).
    claim_now: bool,
    /// The last claim found nothing.
    queue_empty: bool,
    /// When the queue's next row falls due (store time, `None`: none), as read while the
    /// queue was known empty: read again only once this sender has claimed or recorded
    /// since (a row queued by anyone else wakes it, and it claims).
    next_due: Option<Option<Millis>>,
    /// The longest idle sleep.
    idle_poll_ms: Millis,
    /// Handed replies the fast lane passed on (they must wait for their slot), or that it
    /// had not taken when stopping.
    handed: mpsc::UnboundedReceiver<OutboxRow>,
    handed_tx: mpsc::UnboundedSender<OutboxRow>,
    /// Handed rows received while idle, to take in on the next turn.
    handed_now: Vec<OutboxRow>,
    /// The fast lane ([`fast_lane`]), while it runs.
    lane: Option<tokio::task::JoinHandle<()>>,
}

impl Sender {
    fn new(s: Arc<Shared>, ready: Arc<Notify>, idle_poll_ms: Millis) -> Sender {
        let (done_tx, done_rx) = mpsc::unbounded_channel::<Completion>();
        let (handed_tx, handed) = mpsc::unbounded_channel::<OutboxRow>();
        let last_stale_check = lock(&s.limiter).now();
        Sender {
            window: s.config.window(None),
            short: s.config.short_wait(),
            lease: s.config.lease_ms,
            semaphore: Arc::new(Semaphore::new(s.config.concurrency.max(1))),
            done_tx,
            done_rx,
            pending: Vec::new(),
            held: Held::default(),
            last_stale_check,
            last_paid_check: last_stale_check,
            last_expired_check: last_stale_check - 1_000,
            done: Vec::new(),
            last_flush: s.store.now(),
            claim_now: true,
            queue_empty: false,
            next_due: None,
            idle_poll_ms,
            handed,
            handed_tx,
            handed_now: Vec::new(),
            lane: None,
            s,
            ready,
        }
    }

    /// Starts the fast lane: from now on, replies queued in this process for this account
    /// are claimed as they are written and handed to it ([`Store::receive_handed`]).
    fn start_lane(&mut self, shutdown: &CancellationToken) {
        let handed = self
            .s
            .store
            .receive_handed(self.s.deliver.account_id(), self.lease);
        self.lane = Some(tokio::spawn(fast_lane(
            self.s.clone(),
            handed,
            Lane {
                semaphore: self.semaphore.clone(),
                done: self.done_tx.clone(),
                slow: self.handed_tx.clone(),
            },
            shutdown.clone(),
        )));
    }

    /// Takes in the replies handed over since the last turn: claimed already, they wait
    /// here like the rows of a claim.
    async fn take_handed(&mut self, now: Millis) {
        while let Ok(row) = self.handed.try_recv() {
            self.handed_now.push(row);
        }
        for row in std::mem::take(&mut self.handed_now) {
            self.take(row, now).await;
        }
    }

    /// Holds a claimed row here, read and ready to go (or records why it cannot go);
    /// whether it goes at paid speed.
    async fn take(&mut self, row: OutboxRow, now: Millis) -> bool {
        if self.held.renew(&row, now) {
            return false;
        }
        match self.s.prepare(row).await {
            Ok(Ok(job)) => {
                let paid = job.paid;
                self.held.hold(&job.row, now);
                self.pending.push((now, job));
                paid
            }
            Ok(Err(c)) => {
                self.done.push(c);
                false
            }
            Err(e) => {
                tracing::error!(error = ?e, "reading a row failed");
                false
            }
        }
    }

    /// Takes in the sends that finished; returns the time (limiter time).
    fn collect(&mut self) -> Millis {
        while let Ok(c) = self.done_rx.try_recv() {
            self.done.push(c);
        }
        let now = lock(&self.s.limiter).now();
        self.held.settle(&mut self.done);
        now
    }

    /// Rows that waited here for half their lease go back to the queue before another
    /// worker (or this one) could take them again (looked at about once a second).
    fn return_stale(&mut self, now: Millis) {
        let mut k = if now - self.last_stale_check >= 1_000 {
            self.last_stale_check = now;
            0
        } else {
            self.pending.len()
        };
        while k < self.pending.len() {
            let id = self.pending[k].1.row.id;
            if self.held.older_than(id, now, self.lease / 2) {
                let (at, mut job) = self.pending.swap_remove(k);
                self.held.release(&mut job.row);
                self.done.push(self.s.defer(&job.row, at.max(now)));
            } else {
                k += 1;
            }
        }
    }

    /// Gives back the paid blocks reserved and left unused (looked at about once a second).
    async fn release_idle_paid(&mut self, now: Millis) {
        if now - self.last_paid_check >= 1_000 {
            self.last_paid_check = now;
            self.s.release_idle_paid(false).await;
        }
    }

    /// Records the outcomes at hand in one batch when there are many, they have waited, or
    /// the sender has nothing else to do (nothing waiting, nothing in flight), and claims
    /// more rows in the same transaction when few are at hand; `false` when recording
    /// failed (after a pause). Under a stream of handed replies it is never idle:
    /// outcomes then go in batches, not a transaction per reply.
    async fn flush(&mut self, now: Millis) -> bool {
        let idle = self.pending.is_empty()
            && self.semaphore.available_permits() >= self.s.config.concurrency.max(1);
        let waited = now - self.last_flush;
        if self.done.is_empty()
            || !(self.done.len() >= 64 || waited >= FLUSH_MS || (idle && waited >= FLUSH_IDLE_MS))
        {
            return true;
        }
        // A chat's next row is claimable once its previous one is recorded: when more rows
        // are wanted, the same transaction claims them.
        let s = self.s.clone();
        let recorded = match self.runs_low(now) {
            true => {
                let expired = self.expired_due(now);
                let account = s.deliver.account_id();
                let (window, lease) = (self.window as i64, self.lease);
                s.store
                    .record_and_claim(&self.done, account, window, lease, expired)
                    .await
                    .map(Some)
            }
            false => s.store.record_outcomes(&self.done).await.map(|()| None),
        };
        let claimed = match recorded {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::error!(error = ?e, "recording sends failed; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
                return false;
            }
        };
        self.done.clear();
        self.last_flush = now;
        match claimed {
            Some(rows) => self.take_claimed(rows, now).await,
            None => {
                self.queue_empty = false;
                self.next_due = None;
            }
        }
        true
    }

    /// Whether few rows at hand can go, so that more should be claimed.
    fn runs_low(&self, now: Millis) -> bool {
        let ready_now = self.pending.iter().filter(|(at, _)| *at <= now).count();
        ready_now < self.window / 2 && self.pending.len() < 4 * self.window
    }

    /// Whether the next claim looks for rows whose lease ran out (once a second).
    fn expired_due(&mut self, now: Millis) -> bool {
        if now - self.last_expired_check < 1_000 {
            return false;
        }
        self.last_expired_check = now;
        true
    }

    /// Claims a window of due rows when woken, or when few rows at hand can go; `false`
    /// when claiming failed (after a pause).
    async fn claim(&mut self, now: Millis, shutdown: &CancellationToken) -> bool {
        let low = !self.queue_empty && self.runs_low(now);
        if !self.claim_now && !low {
            return true;
        }
        self.claim_now = false;
        let expired = self.expired_due(now);
        let s = &self.s;
        let account = s.deliver.account_id();
        let rows = match s
            .store
            .record_and_claim(&[], account, self.window as i64, self.lease, expired)
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(error = ?e, "claiming rows failed");
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                return false;
            }
        };
        self.take_claimed(rows, now).await;
        true
    }

    /// Holds the rows of a claim (see [`Sender::take`]).
    async fn take_claimed(&mut self, rows: Vec<OutboxRow>, now: Millis) {
        self.claim_now = false;
        self.queue_empty = rows.is_empty();
        self.next_due = None;
        let mut paid = false;
        for row in rows {
            paid |= self.take(row, now).await;
        }
        let s = &self.s;
        // A paid broadcast goes faster: claim a third of a second of it at its rate.
        self.window = s.config.window(if paid { s.paid_per_sec() } else { None });
    }

    /// The best row whose slot has come: highest priority, groups first, oldest.
    fn pick(&self, now: Millis) -> Option<usize> {
        self.pending
            .iter()
            .enumerate()
            .filter(|(_, (at, _))| *at <= now)
            .min_by_key(|(_, (_, j))| (j.row.priority, -j.row.is_group, j.row.id))
            .map(|(i, _)| i)
    }

    /// Nothing can go now: sleeps until a pending slot, a new row or a finished send.
    async fn idle(&mut self, now: Millis, shutdown: &CancellationToken) {
        let s = &self.s;
        let next_pending = self.pending.iter().map(|(at, _)| *at).min();
        let next_due = if self.queue_empty {
            let due = match self.next_due {
                Some(due) => due,
                None => match s.store.next_due_at(s.deliver.account_id()).await {
                    Ok(due) => *self.next_due.insert(due),
                    Err(_) => None,
                },
            };
            due.map(|at| at - s.store.now() + now)
        } else {
            Some(now)
        };
        let wake = [next_pending, next_due].into_iter().flatten().min();
        let poll = self.idle_poll_ms;
        let wait = wake.map(|w| (w - now).clamp(1, poll)).unwrap_or(poll) as u64;
        let wait = if self.done.is_empty() {
            wait
        } else {
            wait.min(FLUSH_IDLE_MS as u64)
        };
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = self.ready.notified() => { self.claim_now = true; self.queue_empty = false; }
            _ = tokio::time::sleep(Duration::from_millis(wait)) => { self.queue_empty = false; }
            Some(c) = self.done_rx.recv() => self.done.push(c),
            Some(row) = self.handed.recv() => self.handed_now.push(row),
        }
    }

    /// Sends pending row `i` when its chat and the platform have a free slot; otherwise it
    /// waits here (a short chat wait), goes back to the queue (a long one), or the platform's
    /// wait is waited out. `Break` when stopping leaves no permit to send with.
    async fn dispatch(
        &mut self,
        i: usize,
        now: Millis,
        shutdown: &CancellationToken,
    ) -> ControlFlow<()> {
        // A broadcast stopped while its rows waited here: they are not sent.
        if let Some(b) = self.pending[i].1.row.broadcast_id
            && matches!(self.s.broadcast_stopped(b).await, Ok(true))
        {
            let (_, mut job) = self.pending.swap_remove(i);
            self.held.release(&mut job.row);
            self.done.push(Completion::of(&job.row, Mark::Cancelled));
            return ControlFlow::Continue(());
        }
        let job = &self.pending[i].1;
        let acquired = job.acquire(&mut lock(&self.s.limiter));
        match acquired {
            Ok(()) => {
                let (_, mut job) = self.pending.swap_remove(i);
                let permit = tokio::select! {
                    _ = shutdown.cancelled() => {
                        lock(&self.s.limiter).finished();
                        self.pending.push((now, job));
                        return ControlFlow::Continue(());
                    }
                    p = self.semaphore.clone().acquire_owned() => p,
                };
                self.held.restore(&mut job.row);
                let Ok(permit) = permit else {
                    return ControlFlow::Break(());
                };
                spawn_send(self.s.clone(), job, permit, self.done_tx.clone());
            }
            Err(Wait::Chat(at)) => {
                if at - now <= self.short {
                    self.pending[i].0 = at;
                } else {
                    let (_, mut job) = self.pending.swap_remove(i);
                    self.held.release(&mut job.row);
                    self.done.push(self.s.defer(&job.row, at));
                }
            }
            Err(Wait::Global(at)) => {
                // Never longer than a quarter lease: rows held here go back in time.
                let wait = (at - now).clamp(1, (self.lease / 4).max(1)) as u64;
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = self.ready.notified() => { self.claim_now = true; }
                    _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
                }
            }
        }
        ControlFlow::Continue(())
    }

    /// Dispatches the pending rows whose slot has come, up to a window of them, until one
    /// has to wait.
    async fn dispatch_ready(
        &mut self,
        now: Millis,
        shutdown: &CancellationToken,
    ) -> ControlFlow<()> {
        for _ in 0..self.window {
            let Some(i) = self.pick(now) else {
                break;
            };
            let before = self.pending.len();
            self.dispatch(i, now, shutdown).await?;
            if self.pending.len() == before {
                // It waits (its chat, or the platform): back to the main loop.
                break;
            }
        }
        ControlFlow::Continue(())
    }

    /// Graceful stop: the rows not started go back; the requests in flight finish and are
    /// recorded.
    async fn stop(mut self) {
        let s = self.s.clone();
        // The fast lane passes on what it had not sent when it stops.
        if let Some(lane) = self.lane.take() {
            let _ = lane.await;
        }
        let mut late = std::mem::take(&mut self.handed_now);
        while let Ok(row) = self.handed.try_recv() {
            late.push(row);
        }
        let mut unsent: Vec<(i64, i64)> = self
            .pending
            .iter_mut()
            .map(|(_, j)| {
                self.held.restore(&mut j.row);
                (j.row.id, j.row.attempts)
            })
            .collect();
        unsent.extend(late.iter().map(|r| (r.id, r.attempts)));
        if let Err(e) = s.store.release_many(&unsent).await {
            tracing::error!(error = ?e, "putting rows back failed (their lease will expire)");
        }
        let _ = self
            .semaphore
            .acquire_many(s.config.concurrency.max(1) as u32)
            .await;
        drop(self.done_tx);
        while let Some(c) = self.done_rx.recv().await {
            self.done.push(c);
        }
        self.held.settle(&mut self.done);
        if let Err(e) = s.store.record_outcomes(&self.done).await {
            tracing::error!(error = ?e, "recording the last sends failed");
        }
        s.release_idle_paid(true).await;
        tracing::info!(released = unsent.len(), "sender stopped");
    }
}

/// Sends `job` in a task of its own, holding `permit` (a place among the requests in flight)
/// until it is over; its outcome goes to `done`.
fn spawn_send(
    shared: Arc<Shared>,
    job: Job,
    permit: tokio::sync::OwnedSemaphorePermit,
    done: mpsc::UnboundedSender<Completion>,
) {
    tokio::spawn(async move {
        let c = shared.send(&job).await;
        let _ = done.send(c);
        drop(permit);
    });
}

/// What the fast lane shares with its worker's main loop.
struct Lane {
    /// Requests in flight, up to the worker's concurrency.
    semaphore: Arc<Semaphore>,
    /// Where outcomes go, to be recorded by the main loop.
    done: mpsc::UnboundedSender<Completion>,
    /// Where rows that must wait go: the main loop waits for their slot.
    slow: mpsc::UnboundedSender<OutboxRow>,
}

/// The fast lane of a worker: the replies handed over as they were queued (claimed in the
/// event's own transaction) go from here the moment their chat and the platform have a slot,
/// without waiting for the main loop, whose claims and records are database writes that may
/// queue behind inbound transactions. A reply that must wait, and anything but a plain
/// reply, is passed to the main loop, which treats it as a row it claimed. On stopping, the
/// rows not sent are passed on too, to be put back.
async fn fast_lane(s: Arc<Shared>, mut handed: Handed, lane: Lane, shutdown: CancellationToken) {
    loop {
        let row = tokio::select! {
            _ = shutdown.cancelled() => break,
            row = handed.recv() => match row {
                Some(row) => row,
                None => break,
            },
        };
        if row.broadcast_id.is_some() || is_reminder(&row) {
            let _ = lane.slow.send(row);
            continue;
        }
        let job = match s.prepare(row.clone()).await {
            Ok(Ok(job)) => job,
            Ok(Err(c)) => {
                let _ = lane.done.send(c);
                continue;
            }
            Err(_) => {
                let _ = lane.slow.send(row);
                continue;
            }
        };
        if job.acquire(&mut lock(&s.limiter)).is_err() {
            let _ = lane.slow.send(job.row);
            continue;
        }
        let permit = tokio::select! {
            _ = shutdown.cancelled() => {
                lock(&s.limiter).finished();
                let _ = lane.slow.send(job.row);
                break;
            }
            p = lane.semaphore.clone().acquire_owned() => p,
        };
        let Ok(permit) = permit else {
            let _ = lane.slow.send(job.row);
            break;
        };
        spawn_send(s.clone(), job, permit, lane.done.clone());
    }
    for row in handed.close() {
        let _ = lane.slow.send(row);
    }
}

impl Shared {
    /// Reads a claimed row: its address and message (a broadcast's from the broadcast),
    /// or the completion that ends it when it cannot or should no longer be sent.
    async fn prepare(&self, row: OutboxRow) -> Result<Result<Job, Completion>> {
        let end = Completion::of;
        // A row of a stopped broadcast that was in flight, or back in the queue after a
        // 429, a full group or a restart, when the broadcast was stopped.
        if let Some(b) = row.broadcast_id
            && self.broadcast_stopped(b).await?
        {
            return Ok(Err(end(&row, Mark::Cancelled)));
        }
        let message = match (&row.payload, row.broadcast_id) {
            (Some(p), _) => serde_json::from_str::<Outgoing>(p).ok().map(Arc::new),
            (None, Some(b)) => self.broadcast_message(b).await?,
            (None, None) => None,
        };
        let (Some(to), Some(message)) = (row.address(), message) else {
            let mark = Mark::Failed {
                reason: "unreadable outbox row".into(),
            };
            return Ok(Err(end(&row, mark)));
        };
        if matches!(*message, Outgoing::AnswerCallback { .. })
            && self.store.now() - row.created_at > ANSWER_DEADLINE_MS
        {
            let mark = Mark::Skipped {
                reason: "answer to a button press past its deadline".into(),
            };
            return Ok(Err(end(&row, mark)));
        }
        if is_reminder(&row)
            && let Some(person) = row.person_id
            && !self.store.reminder_still_wanted(person).await?
        {
            let mark = Mark::Skipped {
                reason: "confirmed or stopped since queued".into(),
            };
            return Ok(Err(end(&row, mark)));
        }
        if is_reminder(&row)
            && let Some(daytime) = &self.config.daytime
        {
            let wait = daytime.wait_ms(self.store.now());
            if wait > 0 {
                let mark = Mark::Defer {
                    at: self.store.now() + wait,
                };
                return Ok(Err(end(&row, mark)));
            }
        }
        let paid = match row.broadcast_id {
            Some(b) if !matches!(*message, Outgoing::AnswerCallback { .. }) => {
                self.paid_broadcast(b).await?
            }
            _ => false,
        };
        Ok(Ok(Job {
            row,
            to,
            message,
            paid,
        }))
    }

    /// The account's paid rate, if it has one.
    fn paid_per_sec(&self) -> Option<u32> {
        self.deliver.paid_speed().map(|p| p.per_sec)
    }

    /// Whether broadcast `id`'s rows go at paid speed now: its leader chose it, the account
    /// has a paid mode, and its budget is not spent.
    async fn paid_broadcast(&self, id: i64) -> Result<bool> {
        if self.deliver.paid_speed().is_none() {
            return Ok(false);
        }
        if let Some(state) = lock(&self.paid).get(&id) {
            return Ok(state.paid && !state.spent);
        }
        let paid = self.store.broadcast_spend(id).await? == Spend::PaidSpeed;
        let mut cache = lock(&self.paid);
        if cache.len() > 256 {
            // Forget what can be read again; never a block still reserved.
            cache.retain(|_, s| s.held > 0);
        }
        cache.entry(id).or_insert(PaidState {
            paid,
            ..PaidState::default()
        });
        Ok(paid)
    }

    /// Takes the price of one message of broadcast `id` from its reserved block, if it has
    /// one left; `None` when the ledger must be asked.
    fn take_held(&self, id: i64, price: i64) -> Option<bool> {
        let now = lock(&self.limiter).now();
        let mut cache = lock(&self.paid);
        let state = cache.get_mut(&id)?;
        if state.held >= price {
            state.held -= price;
            state.used_at = now;
            return Some(true);
        }
        state.spent.then_some(false)
    }

    /// Reserves the price of one paid message of broadcast `id` against its budget; false
    /// (and the broadcast goes on at the free rate) once the budget is spent. The ledger is
    /// asked for a block at a time (a tenth of a second of sending at the paid rate), and
    /// near the end of the budget for one message.
    async fn reserve_paid(&self, id: i64) -> Result<bool> {
        let Some(p) = self.deliver.paid_speed() else {
            return Ok(false);
        };
        let price = p.star_tenths_per_msg;
        if price <= 0 {
            return Ok(true);
        }
        if let Some(taken) = self.take_held(id, price) {
            return Ok(taken);
        }
        let _one_at_a_time = self.reserving.lock().await;
        // Another send may have reserved a block while this one waited.
        if let Some(taken) = self.take_held(id, price) {
            return Ok(taken);
        }
        let account = self.deliver.account_id();
        let period = broadcast_period(id);
        let block = price * (i64::from(p.per_sec) / PAID_BLOCK_PER_SEC).max(1);
        let mut got = 0;
        for amount in [block, price] {
            if self
                .store
                .reserve_spend(account, &period, amount, p.star_tenths_budget)
                .await?
            {
                got = amount;
                break;
            }
        }
        let now = lock(&self.limiter).now();
        let mut cache = lock(&self.paid);
        let state = cache.entry(id).or_insert(PaidState {
            paid: true,
            ..PaidState::default()
        });
        if got == 0 {
            state.spent = true;
            tracing::info!(
                broadcast = id,
                "paid broadcast budget spent: the rest go at the free rate"
            );
            return Ok(false);
        }
        state.held += got - price;
        state.used_at = now;
        Ok(true)
    }

    /// Gives back the price of a paid message of broadcast `id` that was not sent (to its
    /// reserved block; the block goes back to the ledger later).
    fn release_paid(&self, id: i64) {
        let Some(p) = self.deliver.paid_speed() else {
            return;
        };
        if let Some(state) = lock(&self.paid).get_mut(&id) {
            state.held += p.star_tenths_per_msg.max(0);
        }
    }

    /// Gives back to the ledger the reserved blocks not used for [`PAID_IDLE_MS`] (all of
    /// them with `all`, when the worker stops).
    async fn release_idle_paid(&self, all: bool) {
        if self.deliver.paid_speed().is_none() {
            return;
        }
        let now = lock(&self.limiter).now();
        let idle: Vec<(i64, i64)> = lock(&self.paid)
            .iter_mut()
            .filter(|(_, s)| s.held > 0 && (all || now - s.used_at >= PAID_IDLE_MS))
            .map(|(id, s)| (*id, std::mem::take(&mut s.held)))
            .collect();
        let account = self.deliver.account_id();
        for (id, amount) in idle {
            if let Err(e) = self
                .store
                .release_spend(account, &broadcast_period(id), amount)
                .await
            {
                tracing::warn!(error = ?e, broadcast = id, "giving back a reserved block failed");
            }
        }
    }

    /// Whether broadcast `id` was stopped (read at most every [`STATUS_TTL_MS`]).
    async fn broadcast_stopped(&self, id: i64) -> Result<bool> {
        let now = lock(&self.limiter).now();
        if let Some((at, stopped)) = lock(&self.stopped).get(&id)
            && now - at < STATUS_TTL_MS
        {
            return Ok(*stopped);
        }
        let status = self.store.broadcast_status(id).await?;
        let stopped = matches!(status.as_deref(), Some("cancelled" | "cancelling"));
        let mut cache = lock(&self.stopped);
        if cache.len() > 256 {
            cache.clear();
        }
        cache.insert(id, (now, stopped));
        Ok(stopped)
    }

    async fn broadcast_message(&self, id: i64) -> Result<Option<Arc<Outgoing>>> {
        if let Some(m) = lock(&self.payloads).get(&id) {
            return Ok(Some(m.clone()));
        }
        let Some(payload) = self.store.broadcast_payload(id).await? else {
            return Ok(None);
        };
        let Ok(message) = serde_json::from_str::<Outgoing>(&payload) else {
            return Ok(None);
        };
        let message = Arc::new(message);
        let mut cache = lock(&self.payloads);
        if cache.len() > 64 {
            cache.clear();
        }
        cache.insert(id, message.clone());
        Ok(Some(message))
    }

    /// Back to the queue until `at` (limiter time), not counting an attempt.
    fn defer(&self, row: &OutboxRow, at: Millis) -> Completion {
        let delay = at - lock(&self.limiter).now();
        Completion::of(
            row,
            Mark::Defer {
                at: self.store.now() + delay.max(0),
            },
        )
    }

    /// Sends one job whose slots it took, says what became of it, and tells the limiter
    /// the request is over (the paid window counts it until then).
    async fn send(&self, job: &Job) -> Completion {
        let completion = self.send_acquired(job).await;
        lock(&self.limiter).finished();
        completion
    }

    /// Sends one job and says what became of it.
    async fn send_acquired(&self, job: &Job) -> Completion {
        let paid = match (job.paid, job.row.broadcast_id) {
            (true, Some(b)) => match self.reserve_paid(b).await {
                Ok(true) => Some(b),
                // Budget spent (or the ledger unreadable): not sent now, and not at the paid
                // rate; it is claimed again at once and goes at the free rate.
                Ok(false) => {
                    return Completion::of(
                        &job.row,
                        Mark::Defer {
                            at: self.store.now(),
                        },
                    );
                }
                Err(e) => {
                    tracing::warn!(error = ?e, "reserving a paid message's price failed");
                    let at = self.store.now() + 1000;
                    return Completion::of(&job.row, Mark::Defer { at });
                }
            },
            _ => None,
        };
        let started = std::time::Instant::now();
        let context = crate::platform::SendContext {
            row_id: Some(job.row.id),
            broadcast_id: job.row.broadcast_id,
        };
        let result = match paid {
            Some(_) => self.deliver.deliver_paid(&job.to, &job.message).await,
            None => {
                self.deliver
                    .deliver_row(&job.to, &job.message, context)
                    .await
            }
        };
        // Telegram bills sent messages only: a refused one gives its price back. After a
        // network failure it may have gone, so its price stays reserved (never under-counted).
        if let Some(b) = paid
            && matches!(&result, Err(e) if !matches!(e, DeliveryError::Transient(_)))
        {
            self.release_paid(b);
        }
        let status = crate::metrics::send_status(&result);
        crate::metrics::record_send(job.to.platform, status, started.elapsed());
        let now = self.store.now();
        let row = &job.row;
        match &result {
            Err(DeliveryError::Transient(reason)) => self.failed(now, reason).await,
            Err(DeliveryError::RetryAfter { .. }) => {}
            _ => self.recovered(now).await,
        }
        let mark = match result {
            Ok(d) => Mark::Sent {
                message_id: d.message_id,
            },
            Err(DeliveryError::RetryAfter { seconds, global }) => {
                lock(&self.limiter).pause(&job.to.chat_id, seconds, global);
                tracing::warn!(chat = %job.to.chat_id, seconds, global, "rate limited by the platform");
                Mark::Defer {
                    at: now + seconds as Millis * 1000,
                }
            }
            Err(DeliveryError::Unreachable(reason)) => Mark::Unreachable {
                reason: format!("unreachable: {reason}"),
                account: job.to.account.to_string(),
                chat_id: job.to.chat_id.clone(),
            },
            Err(DeliveryError::Skipped(reason)) => Mark::Skipped { reason },
            Err(e @ (DeliveryError::Rejected(_) | DeliveryError::Migrated(_))) => Mark::Failed {
                reason: e.to_string(),
            },
            Err(DeliveryError::Transient(reason)) => {
                if row.attempts >= self.config.max_attempts {
                    Mark::Failed {
                        reason: format!("gave up after {} attempts: {reason}", row.attempts),
                    }
                } else {
                    Mark::Retry {
                        at: now + backoff_ms(row.attempts),
                        reason,
                    }
                }
            }
        };
        Completion::of(row, mark)
    }
}

impl Shared {
    /// A request failed for a reason that may be the platform's (network, timeout, 5xx):
    /// the first one of an outage is logged with the messages waiting.
    async fn failed(&self, now: Millis, reason: &str) {
        let first = {
            let mut o = lock(&self.outage);
            o.failures += 1;
            if o.since.is_none() {
                o.since = Some(now);
                o.count += 1;
                true
            } else {
                false
            }
        };
        if first {
            let platform = self.deliver.platform();
            let account = self.deliver.account_id();
            let waiting = self.store.outbox_waiting(account).await.unwrap_or(-1);
            tracing::error!(%platform, account, waiting, error = %reason, "platform unreachable: sending failed; retrying with backoff");
        }
    }

    /// A request went through: the end of an outage, if there was one, is logged.
    async fn recovered(&self, now: Millis) {
        let ended = {
            let mut o = lock(&self.outage);
            o.since.take().map(|since| {
                let failures = std::mem::take(&mut o.failures);
                (now - since, failures)
            })
        };
        if let Some((down_ms, failures)) = ended {
            let platform = self.deliver.platform();
            let account = self.deliver.account_id();
            let waiting = self.store.outbox_waiting(account).await.unwrap_or(-1);
            tracing::warn!(%platform, account, waiting, down_secs = down_ms / 1000, failures, "platform reachable again");
        }
    }
}

fn is_reminder(row: &OutboxRow) -> bool {
    row.dedupe_key
        .as_deref()
        .is_some_and(|k| k.starts_with("rem:"))
}

/// Retries of a failed send: between half and all of 1 s, 2 s, 4 s … capped at 5 minutes, so
/// retries of many rows spread out.
const RETRY: Backoff = Backoff {
    base: Duration::from_secs(1),
    cap: Duration::from_secs(300),
    jitter: true,
};

/// The delay before retrying a row that has failed `attempts` times.
pub fn backoff_ms(attempts: i64) -> i64 {
    RETRY
        .delay(u32::try_from(attempts).unwrap_or(0))
        .as_millis() as i64
}

#[cfg(test)]
mod tests {
    use super::Held;
    use crate::store::{Completion, Mark, OutboxRow};

    fn row(id: i64, attempts: i64) -> OutboxRow {
        OutboxRow {
            id,
            platform: "telegram".into(),
            account: "telegram".into(),
            chat_id: "1".into(),
            is_group: 0,
            person_id: None,
            broadcast_id: Some(9),
            priority: 0,
            payload: None,
            attempts,
            dedupe_key: None,
            created_at: 5,
        }
    }

    #[test]
    fn a_row_claimed_again_goes_once_under_its_newest_claim() {
        let mut held = Held::default();
        let first = row(1, 1);
        assert!(!held.renew(&first, 0));
        held.hold(&first, 0);
        assert!(held.older_than(1, 600, 500));
        // Its lease ran out while it waited here and it was claimed again: not taken twice.
        assert!(held.renew(&row(1, 2), 600));
        assert!(!held.older_than(1, 600, 500));
        let mut waiting = first.clone();
        held.restore(&mut waiting);
        assert_eq!(waiting.attempts, 2);
        // Its outcome is recorded against the newest claim, and the row is let go.
        let mut done = [Completion::of(&first, Mark::Cancelled)];
        assert_eq!((done[0].claim, done[0].queued_at), (1, 5));
        held.settle(&mut done);
        assert_eq!(done[0].claim, 2);
        assert!(!held.renew(&first, 700));
        // Released rows leave with their newest claim too.
        held.hold(&row(2, 1), 0);
        assert!(held.renew(&row(2, 3), 10));
        let mut back = row(2, 1);
        held.release(&mut back);
        assert_eq!(back.attempts, 3);
        assert!(!held.renew(&back, 20));
    }
}
