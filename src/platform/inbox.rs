//! The one way in: every source of events (a platform's webhook routes, Telegram's long
//! polling, the console) hands its [`Inbound`] events to the [`Inbox`], which takes each in
//! the same steps:
//!
//! 1. makes every platform string safe to store ([`Inbound::cleaned`]);
//! 2. turns a typed number or label into the press of a remembered button, where the
//!    source's buttons come back as text ([`choices::resolve`]);
//! 3. fills in the sender's name when the event carries none (the stored one, else the
//!    platform's profile, asked once);
//! 4. takes the chat's turn (one event per chat at a time on this replica) and lets the
//!    [`Engine`] handle it in one transaction; for webhooks, that transaction first claims
//!    the event's id, so a retried delivery is handled once ([`Inbox::take_claimed`]).
//!
//! A [`Source`] says how one account's events are taken in; it is the account's, not the
//! platform's, so two accounts of one platform each feed the inbox with their own.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use anyhow::Result;

use super::chat_lock::ChatLocks;
use super::profile::Profiles;
use super::{Event, Inbound, choices, clean_line};
use crate::conversation::{Engine, Entry, Guard};
use crate::domain::Platform;
use crate::store::{ReadAhead, Sender, Store};

/// How one account's events are taken in.
#[derive(Clone, Default)]
pub struct Source {
    /// The account the events are for: their people and chats belong to it (`None`: the
    /// platform's single account, named after the platform; the console).
    pub account: Option<crate::domain::AccountId>,
    /// Where to ask a sender's name when the event carries none (platforms whose events
    /// carry only an id).
    pub profiles: Option<Arc<dyn Profiles>>,
    /// Whether a typed number or label may press a remembered button: the account's buttons
    /// are numbered lines, or taps that come back as the person's text.
    pub typed_choices: bool,
    /// The prefix of the account's webhook event claims (`messenger.event`); claims are kept
    /// as `<prefix>.<event id>` and forgotten after [`CLAIM_KEEP_MS`].
    pub claim_prefix: String,
}

/// What became of a batch of claimed events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// Every event was handled now or before.
    Handled,
    /// Another attempt holds one of them right now (or the claim could not be read): the
    /// platform should retry later.
    Busy,
    /// Handling one of them failed; its claim is released so the platform's retry handles
    /// it.
    Failed,
}

impl Taken {
    /// The answer the platform gets: 200, 503 (retry later) or 500 (retry).
    pub fn status(self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            Taken::Handled => StatusCode::OK,
            Taken::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Taken::Failed => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// A webhook body as JSON, once its proof of origin checked out (`signed`): a forgery is
/// counted and answered 403 without being read, a body that is no JSON 400.
pub fn signed_json(
    platform: Platform,
    signed: bool,
    body: &[u8],
) -> Result<serde_json::Value, axum::http::StatusCode> {
    if !signed {
        crate::metrics::record_refused_webhook(platform);
        tracing::warn!(%platform, "webhook with a missing or bad signature refused");
        return Err(axum::http::StatusCode::FORBIDDEN);
    }
    serde_json::from_slice(body).map_err(|_| axum::http::StatusCode::BAD_REQUEST)
}

/// The inbound pipeline shared by every source. Cheap to clone.
#[derive(Clone)]
pub struct Inbox {
    engine: Engine,
    /// One inbound event per chat at a time.
    chats: ChatLocks,
    /// The claim prefixes of the sources that claim events, for [`Inbox::purge_claims`].
    prefixes: Arc<Mutex<BTreeSet<String>>>,
}

impl Inbox {
    /// The pipeline into `engine`.
    pub fn new(engine: Engine) -> Inbox {
        Inbox {
            engine,
            chats: ChatLocks::default(),
            prefixes: Arc::default(),
        }
    }

    /// The store (a source may look a sender up before handing an event in).
    pub fn store(&self) -> &Store {
        self.engine.store()
    }

    /// Makes `source` known: its claims are forgotten with the others'.
    pub fn register(&self, source: Source) -> Arc<Source> {
        if !source.claim_prefix.is_empty()
            && let Ok(mut prefixes) = self.prefixes.lock()
        {
            prefixes.insert(source.claim_prefix.clone());
        }
        Arc::new(source)
    }

    /// Takes in one event of a source that needs no claim (long polling keeps an offset; the
    /// console has one person).
    pub async fn take(&self, source: &Source, inbound: Inbound) -> Result<()> {
        let inbound = self.prepare(source, inbound.cleaned()).await;
        self.handle(&inbound).await
    }

    /// Takes in webhook events once each: the claim `<prefix>.<key>` is taken in the
    /// event's own transaction, with everything the event does, so a retry finds it
    /// handled, or (when the attempt failed or died) not claimed at all. The other events of
    /// a batch are handled either way.
    pub async fn take_claimed(&self, source: &Source, events: Vec<(String, Inbound)>) -> Taken {
        let mut taken = Taken::Handled;
        for (mut key, inbound) in events {
            clean_line(&mut key);
            let inbound = self.prepare(source, inbound.cleaned()).await;
            let claim = ClaimGuard {
                claim: format!("{}.{key}", source.claim_prefix),
                verdict: Mutex::new(None),
            };
            let _turn = self.chat_turn(&inbound).await;
            match self.engine.handle_guarded(&inbound, Some(&claim)).await {
                Ok(true) => {}
                Ok(false) => {
                    let verdict = claim.verdict.lock().ok().and_then(|mut v| v.take());
                    if matches!(verdict, Some(Claim::Busy)) {
                        taken = Taken::Busy;
                    }
                }
                Err(e) => {
                    tracing::error!(error = ?e, platform = %inbound.platform, "webhook event failed");
                    taken = Taken::Failed;
                }
            }
        }
        taken
    }

    /// Claims an event the source ignores, so a retry of it stays ignored.
    pub async fn claim_ignored(&self, source: &Source, key: &str) {
        let mut key = key.to_string();
        clean_line(&mut key);
        let store = self.store();
        let _ = store
            .kv_insert_new(
                &format!("{}.{key}", source.claim_prefix),
                &store.now().to_string(),
            )
            .await;
    }

    /// Forgets the claims of every registered source older than [`CLAIM_KEEP_MS`].
    pub async fn purge_claims(&self) {
        let prefixes: Vec<String> = match self.prefixes.lock() {
            Ok(p) => p.iter().cloned().collect(),
            Err(_) => Vec::new(),
        };
        let prefixes: Vec<&str> = prefixes.iter().map(String::as_str).collect();
        purge_claims(self.store(), &prefixes).await;
    }

    /// Steps 2 and 3: typed choices and the sender's name (after naming the account the
    /// event is for).
    async fn prepare(&self, source: &Source, mut inbound: Inbound) -> Inbound {
        if let Some(account) = &source.account {
            inbound.account = account.clone();
        }
        if source.typed_choices
            && let Event::Text(text) = &inbound.event
        {
            match choices::resolve(self.store(), &inbound.account, &inbound.chat.id, text).await {
                Ok(Some(pressed)) => inbound.event = pressed,
                Ok(None) => {}
                Err(e) => tracing::warn!(error = ?e, "reading numbered choices failed"),
            }
        }
        if let Some(profiles) = &source.profiles {
            self.name_sender(profiles.as_ref(), &mut inbound).await;
        }
        inbound
    }

    /// Step 4: the chat's turn, then the engine. Two quick messages do not both work from
    /// the same saved state.
    async fn handle(&self, inbound: &Inbound) -> Result<()> {
        let _turn = self.chat_turn(inbound).await;
        self.engine.handle(inbound).await
    }

    /// Waits for the chat's turn (taken before the event's transaction starts).
    async fn chat_turn(&self, inbound: &Inbound) -> super::chat_lock::ChatGuard {
        self.chats
            .lock(&format!("{}:{}", inbound.account, inbound.chat.id))
            .await
    }

    /// Fills in the sender's name where the event gave none: the stored one, or (for a new
    /// account, or one still without a name) the platform's, asked once.
    async fn name_sender(&self, profiles: &dyn Profiles, inbound: &mut Inbound) {
        if !inbound.sender.display_name.is_empty() {
            return;
        }
        let user = inbound.sender.user_id.clone();
        match self
            .store()
            .person_by_platform_id(&inbound.account, &user)
            .await
        {
            Ok(Some(p)) if !p.display_name.is_empty() => {
                inbound.sender.display_name = p.display_name
            }
            Ok(_) => {
                if let Some(mut name) = profiles.display_name(&user).await {
                    // The platform's profile is as untrusted as its webhooks.
                    clean_line(&mut name);
                    inbound.sender.display_name = name;
                }
            }
            Err(e) => tracing::warn!(error = ?e, "reading a person failed"),
        }
    }
}

/// How long event claims are kept: platforms retry for hours at most.
pub const CLAIM_KEEP_MS: i64 = 3 * 24 * 3600 * 1000;

/// Forgets event claims under `prefixes` older than [`CLAIM_KEEP_MS`].
pub async fn purge_claims(store: &Store, prefixes: &[&str]) {
    let before = store.now() - CLAIM_KEEP_MS;
    for prefix in prefixes {
        match store.purge_event_claims(prefix, before).await {
            Ok(n) if n > 0 => tracing::debug!(prefix, n, "old webhook claims forgotten"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = ?e, prefix, "forgetting old webhook claims failed"),
        }
    }
}

/// How long a claimed event may be in hand before a retry of it takes over (the first
/// attempt crashed): longer than any handling takes.
const CLAIM_LEASE_MS: i64 = 30_000;

/// What a webhook event's claim says.
enum Claim {
    /// Ours to handle.
    Mine,
    /// Handled before: answer 200 and do nothing.
    Done,
    /// Another attempt is handling it right now: ask the platform to retry later.
    Busy,
}

/// A webhook event's claim, taken first in the event's transaction.
struct ClaimGuard {
    claim: String,
    /// What the claim said, when it said no.
    verdict: Mutex<Option<Claim>>,
}

#[async_trait::async_trait]
impl Guard for ClaimGuard {
    async fn enter(&self, store: &Store, sender: Sender<'_>) -> Result<Entry> {
        let (verdict, ahead) = claim_event(store, &self.claim, sender).await?;
        let entry = match verdict {
            Claim::Mine => Entry::Go(ahead),
            Claim::Done | Claim::Busy => Entry::Stop,
        };
        if let Ok(mut v) = self.verdict.lock() {
            *v = Some(verdict);
        }
        Ok(entry)
    }

    /// A claim found handled wrote nothing (neither the claim nor its mark was new).
    fn wrote_nothing(&self) -> bool {
        self.verdict
            .lock()
            .is_ok_and(|v| matches!(*v, Some(Claim::Done)))
    }
}

/// Claims `claim` (`prefix.key`) inside the event's transaction (`store` is bound to it):
/// the claim and its `.done` mark are written together, so they commit with the event's
/// work, or neither does; the same round trip reads the sender's row ahead for the engine.
/// A claim without its mark was left by an earlier version that claimed before handling:
/// it is respected for [`CLAIM_LEASE_MS`] (that attempt may still be running), then taken
/// over.
async fn claim_event(store: &Store, claim: &str, sender: Sender<'_>) -> Result<(Claim, ReadAhead)> {
    let now = store.now().to_string();
    let done = format!("{claim}.done");
    let (new, ahead) = store.claim_reading(claim, &done, sender).await?;
    match new {
        2 => return Ok((Claim::Mine, ahead)),
        0 => return Ok((Claim::Done, ahead)),
        // Only the mark was new: an unfinished claim of an earlier attempt.
        _ => {}
    }
    let Some(held) = store.kv_get(claim).await? else {
        return Ok((Claim::Busy, ahead));
    };
    let since = held.parse::<i64>().unwrap_or(0);
    if store.now() - since < CLAIM_LEASE_MS {
        return Ok((Claim::Busy, ahead));
    }
    if store.kv_replace(claim, &held, &now).await? {
        tracing::warn!(
            claim,
            "taking over a webhook event an earlier attempt did not finish"
        );
        Ok((Claim::Mine, ahead))
    } else {
        Ok((Claim::Busy, ahead))
    }
}
