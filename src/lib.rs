//! # bluezone-bot
//!
//! A chat-bot that drives a contact-tracing app installation campaign (Bluezone, Vietnam 2020)
//! and measures it: citizens get a step-by-step guide and confirm their install; unit leaders
//! broadcast, check and report; administrators read coverage down the administrative tree.
//!
//! # Layout
//!
//! - [`domain`]: values that parse at the boundary (unit codes, locales, deep-link payloads,
//!   platforms, the persisted conversation state). Past the parser an invalid value cannot
//!   exist.
//! - [`conversation`]: the pure heart. An [`Inbound`](platform::Inbound) event and the
//!   person's persisted [`State`](conversation::State) become a new state and replies
//!   (message keys, not text). It never sees a platform type.
//! - [`i18n`]: Fluent bundles from `locales/`, embedded at build time; one render function and
//!   a test that every key exists in every locale with only the variables the code passes.
//! - [`platform`]: the only platform-aware code. An [`Adapter`](platform::Adapter) is one
//!   account on one platform (a Telegram bot, a Messenger Page, a Zalo OA) with its root
//!   unit and administrators; its folder
//!   `platform/<name>/` owns its settings, start-up, webhook routes, delivery, links and
//!   capabilities, and one line registers the platform ([`platform::PLATFORMS`]). Every
//!   source of events feeds one pipeline ([`platform::inbox`]); Messenger and Zalo share one
//!   plain-text downgrade ([`platform::plain`]). The conversation asks its capability
//!   questions through [`Platforms`](platform::Platforms), of the account a person or chat
//!   belongs to (people, chats and outbox rows carry their account's id).
//! - [`accounts`]: the accounts file (`BLUEZONE_ACCOUNTS_FILE`): any number of bots, OAs and
//!   Pages, each with its id, root unit, administrators and settings; secrets only as the
//!   names of the variables that hold them. Each entry is read by its platform's own reader.
//! - [`reach`]: whom each account may write to now and at what cost (windows, billed
//!   periods, budgets, paid speed), as data each adapter describes and one pure classifier.
//! - [`store`]: all SQL, one file per table family, on SQLite or PostgreSQL through the same
//!   queries. Rows are parsed into domain values before they leave it (a damaged row is an
//!   error naming it), and its functions take domain values (`&UnitCode`, `Platform`). A
//!   store bound to a [`Work`](store::Work) runs every query in that one transaction: each
//!   inbound event (its webhook claim, the person, the new state, the outbox rows) commits
//!   whole or not at all. Events that arrive together share a transaction and its commit
//!   (group commit); when one fails, the others run again, each alone. A webhook event's
//!   claim reads its sender too, and the claims of a group's works go together in one round
//!   trip (`Store::claim_reading`). An event's turn (the new state, the replies) is queued in
//!   its work and written, with the whole group's, just before the commit (`store::turns`).
//!   An event PostgreSQL gives up to break a deadlock runs again (`store::is_transient`).
//!   SQLite's log is checkpointed by a task beside the one writer, not in its commits.
//! - [`outbox`]: every outgoing message is stored before it is sent; one sender worker per
//!   account (led by one replica at a time, a PostgreSQL advisory lock per account, the
//!   replicas sharing the accounts; a polled bot is polled by the same replica) claims small windows of due rows (replies first), checks
//!   the account's limits
//!   at the moment of sending (sliding windows per chat and overall, so a waiting group never
//!   holds back other chats), keeps several requests in flight and records outcomes in
//!   batches (claiming what they held back in the same transaction). Claimed rows are
//!   leased, so a crash loses nothing. A reply queued for a sender
//!   that runs in the same replica is claimed in the event's own transaction and handed to
//!   the sender's fast lane once it commits (the first unfinished row of its chat only).
//!   Whoever queues wakes the senders: in-process, or from another replica by PostgreSQL
//!   `NOTIFY`. A scheduler (in
//!   one replica) runs the timed jobs once a second: broadcast progress, reminders and
//!   daily digests.
//! - [`broadcast`]: the broadcast feature: the leader's commands, the status texts, the
//!   scheduler's progress step and the message keys (its rows live in `store::broadcasts`).
//! - [`reminders`] and [`digest`]: the scheduler's other two jobs, reminding citizens who have
//!   not confirmed (each reminder planned per person inside their platform's free window and
//!   the daytime window) and the leaders' daily digests.
//! - [`coverage`]: the figures of every unit and its subtree from maintained counters (pure
//!   arithmetic apart from the store), daily snapshots for trends, and the rows behind the
//!   coverage table, chart and exports (chat and `bluezone-bot report`).
//! - [`reports`]: pure renderers (charts, invitation posters, xlsx/csv/text exports); every
//!   label is passed in, already rendered from the locales.
//! - [`units_csv`]: the unit file format (`code,name,parent_code,level[,population]`).
//! - [`chat`]: the console chat, the embedded default a new user tries first.
//! - [`config`]: the platform-neutral settings from the environment (plus an optional TOML
//!   campaign file) and the list of configured platform accounts (the accounts file, or one
//!   per platform from its variables); secrets never printed.
//! - [`clock`]: the injected clock (tests move time instead of sleeping).
//! - [`telemetry`]: the tracing subscriber; tests can silence it.
//! - [`startup`]: wires the pool, the engine, the platform accounts and the workers, and
//!   runs them until a stop signal: every configured account is started the same way.
//! - [`http`]: the public HTTP server: `/healthz` and each account's webhook routes, mounted
//!   under `/webhooks/<platform>/<account id>`; `/metrics` on a listener of its own
//!   (loopback by default).
//! - [`metrics`]: in-memory Prometheus counters kept with `prometheus-client`; the outbox depth
//!   is read from the database at scrape time.
//! - [`doctor`]: `bluezone-bot doctor`, one line per check (settings, database, migrations,
//!   units, then each account, whose platform folder answers for its credentials and
//!   webhook through [`Adapter::check`](platform::Adapter::check)); non-zero exit on failure.
//! - [`backoff`]: the one retry-delay formula (exponential, capped, optionally jittered) that
//!   the outbox, Telegram polling and the Zalo token refresh share.

pub mod accounts;
pub mod backoff;
pub mod broadcast;
pub mod chat;
pub mod clock;
pub mod config;
pub mod conversation;
pub mod coverage;
pub mod digest;
pub mod doctor;
pub mod domain;
pub mod http;
pub mod i18n;
pub mod metrics;
pub mod outbox;
pub mod platform;
pub mod reach;
pub mod reminders;
pub mod reports;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod units_csv;
