//! People: one row per account on one platform, with the conversation state, the unit they
//! joined and whether they confirmed. Every change that moves a coverage counter updates the
//! unit counters in the same transaction.

use anyhow::{Context, Result, anyhow, bail};
use futures::TryStreamExt;
use rand::Rng;
use sqlx::{AssertSqlSafe, FromRow, Row};

use super::units::Counters;
use super::{Store, Tx};
use crate::domain::{AccountId, Locale, PersonId, Platform, State, UnitCode};

/// One account, parsed: past the store a person's platform, language, unit and flags are
/// values of their own types, not the columns' text and integers.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    /// Database id.
    pub id: PersonId,
    /// The network the account lives on.
    pub platform: Platform,
    /// The bot, OA or Page the person talks to: their messages go out through it, and its
    /// root unit bounds the units they see.
    pub account: AccountId,
    /// The platform's user id.
    pub platform_user_id: String,
    /// The private chat with the person.
    pub chat_id: String,
    /// The name the platform shows.
    pub display_name: String,
    /// The language the person reads.
    pub locale: Locale,
    /// The unit the person joined.
    pub unit_code: Option<UnitCode>,
    /// `android` or `ios`.
    pub phone_kind: Option<String>,
    /// Where the person is in the conversation (an unreadable stored state reads as idle:
    /// an older version's, or a hand edit).
    pub state: State,
    /// Whether the person sent /start (or pressed a group button and then started the bot).
    pub started: bool,
    /// When the person confirmed installation.
    pub confirmed_at: Option<i64>,
    /// When a leader checked the phone in person.
    pub verified_at: Option<i64>,
    /// Set by /stop: no reminders or broadcasts.
    pub opted_out: bool,
    /// Set when the platform says messages cannot reach the person.
    pub unreachable: bool,
    /// Who shared the link the person came from.
    pub referred_by: Option<PersonId>,
    /// How many people joined through this person's share link.
    pub referrals: i64,
    /// The code in this person's share link.
    pub ref_code: String,
    /// When linked to another account, that account's id (this one then does not count).
    pub linked_to: Option<PersonId>,
    /// Reminders sent since the last activity.
    pub reminders_sent: i64,
    /// When the person was first seen.
    pub created_at: i64,
    /// The last time the person did anything.
    pub last_activity_at: i64,
    /// The last time the person sent something (platform messaging windows).
    pub last_inbound_at: i64,
    /// Whether the row as read holds no planned reminder, no reason for being unreachable,
    /// and the state exactly as this build writes it: with [`Person::saves_nothing`], what a
    /// state save would leave unchanged.
    pub(crate) quiet: bool,
}

impl Person {
    /// The person's private chat with their account.
    pub fn address(&self) -> crate::domain::ChatAddress {
        crate::domain::ChatAddress {
            platform: self.platform,
            account: self.account.clone(),
            chat_id: self.chat_id.clone(),
            is_group: false,
        }
    }

    /// Whether the person confirmed installation.
    pub fn is_confirmed(&self) -> bool {
        self.confirmed_at.is_some()
    }

    /// Whether saving `state` at `now` ([`Store::save_state`]) would change nothing in the
    /// row as read: the same state, the activity under a minute old, nothing to reset. The
    /// event then skips the statement (the row is the one its transaction read and locked).
    pub fn saves_nothing(&self, state: &State, now: i64) -> bool {
        self.quiet
            && self.state == *state
            && self.last_activity_at <= now
            && self.last_activity_at >= now - TOUCH_EVERY_MS
            && self.reminders_sent == 0
            && self.started
            && !self.unreachable
    }
}

/// A `people` row as stored (flags are BIGINT 0/1, the state is JSON); it never leaves the
/// store: [`Person::try_from`] parses it.
#[derive(FromRow, Clone)]
pub(super) struct PersonRow {
    id: PersonId,
    platform: String,
    account: String,
    platform_user_id: String,
    chat_id: String,
    display_name: String,
    locale: String,
    unit_code: Option<String>,
    phone_kind: Option<String>,
    state: String,
    started: i64,
    confirmed_at: Option<i64>,
    verified_at: Option<i64>,
    opted_out: i64,
    unreachable: i64,
    referred_by: Option<PersonId>,
    referrals: i64,
    ref_code: String,
    linked_to: Option<PersonId>,
    reminders_sent: i64,
    created_at: i64,
    last_activity_at: i64,
    last_inbound_at: i64,
    quiet: i64,
}

/// A stored 0/1 flag; anything else is a damaged row.
pub(crate) fn flag(column: &str, value: i64) -> Result<bool> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        other => bail!("{column} is {other}, not 0 or 1"),
    }
}

/// A stored platform name.
pub(crate) fn platform(name: &str) -> Result<Platform> {
    Platform::parse(name).ok_or_else(|| anyhow!("unknown platform {name:?}"))
}

/// A stored unit code.
pub(crate) fn unit_code(code: &str) -> Result<UnitCode> {
    UnitCode::parse(code).map_err(|e| anyhow!(e))
}

impl TryFrom<PersonRow> for Person {
    type Error = anyhow::Error;

    fn try_from(row: PersonRow) -> Result<Person> {
        let id = row.id;
        let parsed = (|| {
            Ok::<_, anyhow::Error>(Person {
                id,
                platform: platform(&row.platform)?,
                account: AccountId::parse(&row.account).map_err(|e| anyhow!(e))?,
                platform_user_id: row.platform_user_id,
                chat_id: row.chat_id,
                display_name: row.display_name,
                locale: Locale::parse(&row.locale)
                    .ok_or_else(|| anyhow!("unknown locale {:?}", row.locale))?,
                unit_code: row.unit_code.as_deref().map(unit_code).transpose()?,
                phone_kind: row.phone_kind,
                quiet: flag("quiet", row.quiet)?
                    && State::from_json(&row.state).to_json() == row.state,
                state: State::from_json(&row.state),
                started: flag("started", row.started)?,
                confirmed_at: row.confirmed_at,
                verified_at: row.verified_at,
                opted_out: flag("opted_out", row.opted_out)?,
                unreachable: flag("unreachable", row.unreachable)?,
                referred_by: row.referred_by,
                referrals: row.referrals,
                ref_code: row.ref_code,
                linked_to: row.linked_to,
                reminders_sent: row.reminders_sent,
                created_at: row.created_at,
                last_activity_at: row.last_activity_at,
                last_inbound_at: row.last_inbound_at,
            })
        })();
        parsed.with_context(|| format!("person {id} in the database is damaged"))
    }
}

/// Parses a fetched row, if any.
fn parse_person(row: Option<PersonRow>) -> Result<Option<Person>> {
    row.map(Person::try_from).transpose()
}

pub(crate) const PERSON_COLUMNS: &str = "id, platform, account, platform_user_id, chat_id, display_name, locale, unit_code, \
     phone_kind, state, started, confirmed_at, verified_at, opted_out, unreachable, referred_by, referrals, \
     ref_code, linked_to, reminders_sent, created_at, last_activity_at, last_inbound_at, \
     CAST(CASE WHEN unreachable_reason IS NULL AND reminder_due_at IS NULL \
     AND reminder_until IS NULL THEN 1 ELSE 0 END AS BIGINT) AS quiet";

/// How stale a person's `last_inbound_at` may be before an event writes it again (the
/// platforms' free windows are hours long; a minute early is on the safe side).
pub(super) const TOUCH_EVERY_MS: i64 = 60_000;

/// A state save that changes nothing (the same state, the activity time under a minute old,
/// nothing to reset) writes no new row version.
pub(super) const SAVE_STATE_SQL: &str = "UPDATE people SET state = $1, last_activity_at = $2, reminders_sent = 0, \
     started = 1, unreachable = 0, unreachable_reason = NULL, reminder_due_at = NULL, \
     reminder_until = NULL WHERE id = $3 AND NOT (state = $1 AND last_activity_at <= $2 \
     AND last_activity_at >= $4 AND reminders_sent = 0 AND started = 1 AND unreachable = 0 \
     AND unreachable_reason IS NULL AND reminder_due_at IS NULL AND reminder_until IS NULL)";

/// A random share code: 10 characters from A-Z a-z 0-9.
fn new_ref_code() -> String {
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..10)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// Whom an event's transaction reads first: its sender.
#[derive(Debug, Clone, Copy)]
pub struct Sender<'a> {
    /// The account the event is for.
    pub account: &'a AccountId,
    /// The sender's platform user id.
    pub user_id: &'a str,
}

/// A sender's row as the statement that claimed their event read it (found or not), in the
/// event's transaction and (on PostgreSQL) locked like [`Store::touch_person_ahead`] locks
/// it: that function takes it instead of reading the row again.
#[derive(Default)]
pub struct ReadAhead(Option<Box<(String, String, Option<PersonRow>)>>);

impl ReadAhead {
    /// Nothing read ahead: the person is read when touched.
    pub fn nothing() -> ReadAhead {
        ReadAhead(None)
    }

    /// The row read for `account`/`user_id`, if that is whom it was read for.
    fn take_for(self, account: &str, user_id: &str) -> Option<Option<PersonRow>> {
        self.0
            .filter(|ahead| ahead.0 == account && ahead.1 == user_id)
            .map(|ahead| ahead.2)
    }
}

/// One event's webhook claim and sender read ([`Store::claim_reading`]), as it waits to
/// go with the other works' of its group.
pub(super) struct ClaimRead {
    /// The claim's key.
    pub claim: String,
    /// Its mark, written with it.
    pub done: String,
    /// The sender's account.
    pub account: String,
    /// The sender's platform user id.
    pub user_id: String,
}

/// What a [`ClaimRead`] found: how many of its two keys were new, and the sender's row.
pub(super) type ClaimFound = (u64, Option<PersonRow>);

/// The most claims one statement carries (a SQLite group's most works); more go in several.
const CLAIM_READS_MAX: usize = 64;

/// The statement of `n` claims and sender reads (`n` a power of two): `$1` is the time
/// written, then four parameters per claim (its key, its mark, the sender's account and
/// user id). The new keys come back (PostgreSQL: as a JSON list in the column `claimed` of
/// every row), then the senders' rows (locked as [`person_lock`] says).
fn claim_reads_sql(backend: super::Backend, n: usize) -> String {
    let keys: Vec<String> = (0..n)
        .map(|i| format!("(${}, $1), (${}, $1)", 2 + 4 * i, 3 + 4 * i))
        .collect();
    let who: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "(account = ${} AND platform_user_id = ${})",
                4 + 4 * i,
                5 + 4 * i
            )
        })
        .collect();
    let claim = format!(
        "INSERT INTO kv (key, value) VALUES {} ON CONFLICT (key) DO NOTHING RETURNING key",
        keys.join(", ")
    );
    let read = format!(
        "SELECT {PERSON_COLUMNS} FROM people WHERE {}{}",
        who.join(" OR "),
        person_lock(backend)
    );
    match backend {
        super::Backend::Postgres => format!(
            "WITH claimed AS ({claim}) \
             SELECT (SELECT CAST(json_agg(key) AS TEXT) FROM claimed) AS claimed, p.* \
             FROM (SELECT 1) AS one LEFT JOIN ({read}) AS p ON TRUE"
        ),
        super::Backend::Sqlite => format!("{claim}; {read}"),
    }
}

/// Runs `reads` on `conn` (in a work's transaction), [`CLAIM_READS_MAX`] per round trip,
/// each statement padded to a power of two claims with copies of its last one (a key
/// written twice is new once). A key claimed twice in one batch (two deliveries of one
/// event in one group) is new for the first only.
pub(super) async fn claim_reads_in(
    backend: super::Backend,
    conn: &mut sqlx::AnyConnection,
    value: &str,
    reads: &[ClaimRead],
) -> Result<Vec<ClaimFound>> {
    static SQL: super::Built<(super::Backend, usize)> = std::sync::LazyLock::new(Default::default);
    let mut found = Vec::with_capacity(reads.len());
    for chunk in reads.chunks(CLAIM_READS_MAX) {
        let Some(last) = chunk.last() else { continue };
        let n = chunk.len().next_power_of_two();
        let sql = super::built(&SQL, (backend, n), || claim_reads_sql(backend, n));
        let mut query = sqlx::query(AssertSqlSafe(&*sql)).bind(value);
        for read in chunk
            .iter()
            .chain(std::iter::repeat_n(last, n - chunk.len()))
        {
            query = query
                .bind(read.claim.as_str())
                .bind(read.done.as_str())
                .bind(read.account.as_str())
                .bind(read.user_id.as_str());
        }
        let mut new_keys = std::collections::HashSet::new();
        let mut rows = Vec::new();
        match backend {
            super::Backend::Postgres => {
                for row in query.fetch_all(&mut *conn).await? {
                    if new_keys.is_empty() {
                        let claimed: Option<String> = row.try_get("claimed")?;
                        if let Some(list) = claimed {
                            let keys: Vec<String> =
                                serde_json::from_str(&list).context("reading the claimed keys")?;
                            new_keys.extend(keys);
                        }
                    }
                    let id: Option<PersonId> = row.try_get("id")?;
                    if id.is_some() {
                        rows.push(PersonRow::from_row(&row)?);
                    }
                }
            }
            super::Backend::Sqlite => {
                // sqlx deprecates several statements in one query because only SQLite runs
                // them; this branch is SQLite's own. The claims' keys come first, then (after
                // the claims' result) the senders' rows.
                #[allow(deprecated)]
                let results: Vec<_> = query.fetch_many(&mut *conn).try_collect().await?;
                let mut claims_done = false;
                for result in results {
                    match result {
                        sqlx::Either::Left(_) => claims_done = true,
                        sqlx::Either::Right(row) if !claims_done => {
                            new_keys.insert(row.try_get::<String, _>(0)?);
                        }
                        sqlx::Either::Right(row) => rows.push(PersonRow::from_row(&row)?),
                    }
                }
            }
        }
        for read in chunk {
            let new = [&read.claim, &read.done]
                .into_iter()
                .filter(|key| new_keys.remove(key.as_str()))
                .count() as u64;
            let row = rows
                .iter()
                .find(|r| r.account == read.account && r.platform_user_id == read.user_id)
                .cloned();
            found.push((new, row));
        }
    }
    Ok(found)
}

/// The locking clause of the person read that starts an event: on PostgreSQL the row is
/// locked for the event's transaction (two events of one person take turns).
fn person_lock(backend: super::Backend) -> &'static str {
    match backend {
        super::Backend::Postgres => " FOR NO KEY UPDATE",
        super::Backend::Sqlite => "",
    }
}

impl Store {
    /// Writes the keys `claim` and `done` with the current time where they are new (how
    /// many were: claims a webhook event and marks it handled, inside the event's
    /// transaction) and reads `sender`'s row ahead for [`Store::touch_person_ahead`]. In a
    /// work, the claims of the group's works that wait for the connection go together, in
    /// one round trip ([`Store::claim_read_combined`]): on PostgreSQL one statement (the
    /// claims in a `WITH`), on SQLite two statements sent together, which only its driver
    /// runs in one call.
    pub async fn claim_reading(
        &self,
        claim: &str,
        done: &str,
        sender: Sender<'_>,
    ) -> Result<(u64, ReadAhead)> {
        let read = ClaimRead {
            claim: claim.to_string(),
            done: done.to_string(),
            account: sender.account.as_str().to_string(),
            user_id: sender.user_id.to_string(),
        };
        let (new, row) = self.claim_read_combined(read).await?;
        let ahead = (
            sender.account.as_str().to_string(),
            sender.user_id.to_string(),
            row,
        );
        Ok((new, ReadAhead(Some(Box::new(ahead)))))
    }

    /// [`Store::touch_person_of`] for the single account of `platform` (named after it).
    pub async fn touch_person(
        &self,
        platform: Platform,
        user_id: &str,
        chat_id: &str,
        display_name: &str,
        locale: Locale,
    ) -> Result<(Person, bool)> {
        let account = AccountId::of_platform(platform);
        self.touch_person_of(platform, &account, user_id, chat_id, display_name, locale)
            .await
    }

    /// Finds the person `user_id` of account `account` (on `platform`), or creates them.
    /// Records the inbound time (messaging windows) and keeps the display name and chat id
    /// fresh. Returns the person and whether it is new.
    pub async fn touch_person_of(
        &self,
        platform: Platform,
        account: &AccountId,
        user_id: &str,
        chat_id: &str,
        display_name: &str,
        locale: Locale,
    ) -> Result<(Person, bool)> {
        let sender = Sender { account, user_id };
        self.touch_person_ahead(
            platform,
            sender,
            chat_id,
            display_name,
            locale,
            ReadAhead::nothing(),
        )
        .await
    }

    /// [`Store::touch_person_of`], with the row `ahead` when it was read ahead for `sender`
    /// in this transaction ([`Store::kv_insert_pair_reading`]).
    pub async fn touch_person_ahead(
        &self,
        platform: Platform,
        sender: Sender<'_>,
        chat_id: &str,
        display_name: &str,
        locale: Locale,
        ahead: ReadAhead,
    ) -> Result<(Person, bool)> {
        let Sender { account, user_id } = sender;
        let now = self.now();
        let name: String = display_name.chars().take(128).collect();
        // The person everyone already knows: read and locked for the event's transaction
        // (two events of one person take turns), written only when something changed or the
        // inbound time is a minute old. An UPDATE changes indexed columns, so each one is a
        // new row version in every index of `people`: most events of a conversation (a burst
        // of presses) write nothing here.
        let found = match ahead.take_for(account.as_str(), user_id) {
            Some(row) => row,
            None => {
                let sql = format!(
                    "SELECT {PERSON_COLUMNS} FROM people WHERE account = $1 AND platform_user_id = $2{}",
                    person_lock(self.backend())
                );
                sqlx::query_as::<_, PersonRow>(AssertSqlSafe(sql))
                    .bind(account.as_str())
                    .bind(user_id)
                    .fetch_optional(self.pool())
                    .await?
            }
        };
        if let Some(row) = found {
            let mut person = Person::try_from(row)?;
            let stale =
                now < person.last_inbound_at || now - person.last_inbound_at >= TOUCH_EVERY_MS;
            if stale || person.display_name != name || person.chat_id != chat_id {
                sqlx::query(
                    "UPDATE people SET last_inbound_at = $1, display_name = $2, chat_id = $3 \
                     WHERE id = $4",
                )
                .bind(now)
                .bind(name.clone())
                .bind(chat_id)
                .bind(person.id)
                .execute(self.pool())
                .await?;
                person.last_inbound_at = now;
                person.display_name = name;
                person.chat_id = chat_id.to_string();
            }
            return Ok((person, false));
        }
        let sql = format!(
            "INSERT INTO people (platform, account, platform_user_id, chat_id, display_name, locale, \
             ref_code, created_at, last_activity_at, last_inbound_at) \
             VALUES ($1, $8, $2, $3, $4, $5, $6, $7, $7, $7) \
             ON CONFLICT (account, platform_user_id) DO NOTHING RETURNING {PERSON_COLUMNS}"
        );
        let inserted = sqlx::query_as::<_, PersonRow>(AssertSqlSafe(sql))
            .bind(platform.as_str())
            .bind(user_id)
            .bind(chat_id)
            .bind(name)
            .bind(locale.code())
            .bind(new_ref_code())
            .bind(now)
            .bind(account.as_str())
            .fetch_optional(self.pool())
            .await?;
        if let Some(row) = inserted {
            return Ok((Person::try_from(row)?, true));
        }
        // Created by another event a moment ago.
        match self
            .person_by_platform_id(account.as_str(), user_id)
            .await?
        {
            Some(p) => Ok((p, false)),
            None => bail!("person {account}:{user_id} vanished"),
        }
    }

    /// Remembers that the person chose to go on without a unit (or forgets it once they
    /// choose one), so free text is not read as a unit search meanwhile.
    pub async fn set_unit_skipped(&self, id: PersonId, skipped: bool) -> Result<()> {
        let key = format!("unit_skipped.{id}");
        if skipped {
            self.kv_set(&key, &self.now().to_string()).await
        } else {
            self.kv_delete(&key).await
        }
    }

    /// Whether the person chose to go on without a unit for now.
    pub async fn unit_skipped(&self, id: PersonId) -> Result<bool> {
        Ok(self.kv_get(&format!("unit_skipped.{id}")).await?.is_some())
    }

    /// People who started the bot and belong to no unit yet (primary accounts only), and how
    /// many of them confirmed: their confirmations count for a unit once they choose one.
    pub async fn people_without_unit(&self) -> Result<(i64, i64)> {
        let (members, confirmed): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COUNT(confirmed_at) FROM people \
             WHERE unit_code IS NULL AND linked_to IS NULL AND started = 1",
        )
        .fetch_one(self.pool())
        .await?;
        Ok((members, confirmed))
    }

    /// The person `user_id` of account `account` (a [`Platform`] names its single account).
    pub async fn person_by_platform_id(
        &self,
        account: impl AsRef<str>,
        user_id: &str,
    ) -> Result<Option<Person>> {
        let account = account.as_ref();
        let sql = format!(
            "SELECT {PERSON_COLUMNS} FROM people WHERE account = $1 AND platform_user_id = $2"
        );
        parse_person(
            sqlx::query_as::<_, PersonRow>(AssertSqlSafe(sql))
                .bind(account)
                .bind(user_id)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// An account by id.
    pub async fn person(&self, id: PersonId) -> Result<Option<Person>> {
        let sql = format!("SELECT {PERSON_COLUMNS} FROM people WHERE id = $1");
        parse_person(
            sqlx::query_as::<_, PersonRow>(AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// The account whose share link carries `ref_code`.
    pub async fn person_by_ref_code(&self, ref_code: &str) -> Result<Option<Person>> {
        let sql = format!("SELECT {PERSON_COLUMNS} FROM people WHERE ref_code = $1");
        parse_person(
            sqlx::query_as::<_, PersonRow>(AssertSqlSafe(sql))
                .bind(ref_code)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// Saves the conversation state and records activity (which restarts reminders). Marks
    /// the person as started and reachable: they just wrote to the bot.
    pub async fn save_state(&self, id: PersonId, state: &State) -> Result<()> {
        let now = self.now();
        sqlx::query(SAVE_STATE_SQL)
            .bind(state.to_json())
            .bind(now)
            .bind(id)
            .bind(now - TOUCH_EVERY_MS)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Sets the person's language.
    pub async fn set_locale(&self, id: PersonId, locale: Locale) -> Result<()> {
        sqlx::query("UPDATE people SET locale = $1 WHERE id = $2")
            .bind(locale.code())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Sets the person's phone kind.
    pub async fn set_phone_kind(&self, id: PersonId, kind: &str) -> Result<()> {
        sqlx::query("UPDATE people SET phone_kind = $1 WHERE id = $2")
            .bind(kind)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Turns reminders and broadcasts off (`/stop`) or back on (`/start`).
    pub async fn set_opted_out(&self, id: PersonId, opted_out: bool) -> Result<()> {
        sqlx::query("UPDATE people SET opted_out = $1 WHERE id = $2")
            .bind(i64::from(opted_out))
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Marks the person behind a private chat of account `account` unreachable (blocked,
    /// deleted, never started): they are left out of every future audience until they write
    /// again.
    /// (A [`Platform`] names its single account.)
    pub async fn mark_unreachable(
        &self,
        account: impl AsRef<str>,
        chat_id: &str,
        reason: &str,
    ) -> Result<()> {
        let account = account.as_ref();
        sqlx::query(
            "UPDATE people SET unreachable = 1, unreachable_reason = $1 WHERE account = $2 AND chat_id = $3",
        )
        .bind(reason)
        .bind(account)
        .bind(chat_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Puts the person in `unit_code` (or takes them out), moving their member, confirmed and
    /// verified counts with them.
    pub async fn set_person_unit(&self, id: PersonId, unit_code: Option<&UnitCode>) -> Result<()> {
        let mut tx = self.begin().await?;
        set_unit_in(&mut tx, id, unit_code.map(UnitCode::as_str)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records the person's confirmation. Returns false when they had confirmed already, so a
    /// second press counts once.
    pub async fn confirm_install(&self, id: PersonId) -> Result<bool> {
        let mut tx = self.begin().await?;
        let r = sqlx::query(
            "UPDATE people SET confirmed_at = $1 WHERE id = $2 AND confirmed_at IS NULL",
        )
        .bind(self.now())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let newly = r.rows_affected() == 1;
        if newly {
            let row: Option<(Option<String>, Option<i64>)> =
                sqlx::query_as("SELECT unit_code, linked_to FROM people WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some((Some(unit), None)) = &row {
                Store::adjust_counters(
                    &mut tx,
                    unit,
                    Counters {
                        confirmed: 1,
                        ..Counters::default()
                    },
                )
                .await?;
            }
            // A linked account's confirmation counts on its primary account (once).
            if let Some((_, Some(primary))) = row {
                Store::confirm_primary_in(&mut tx, primary, self.now()).await?;
            }
        }
        tx.commit().await?;
        Ok(newly)
    }

    /// Credits the person whose share link brought someone in.
    pub async fn credit_referral(&self, newcomer: PersonId, referrer: PersonId) -> Result<bool> {
        if newcomer == referrer {
            return Ok(false);
        }
        let mut tx = self.begin().await?;
        let r =
            sqlx::query("UPDATE people SET referred_by = $1 WHERE id = $2 AND referred_by IS NULL")
                .bind(referrer)
                .bind(newcomer)
                .execute(&mut *tx)
                .await?;
        let credited = r.rows_affected() == 1;
        if credited {
            sqlx::query("UPDATE people SET referrals = referrals + 1 WHERE id = $1")
                .bind(referrer)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(credited)
    }
}

/// unit_code, confirmed_at, verified_at, linked_to.
type PlaceRow = (Option<String>, Option<i64>, Option<i64>, Option<i64>);

/// Moves a person between units inside a transaction, keeping every counter right. For an
/// account linked to another (the person's primary account, which is the one counted), the
/// primary moves too: the unit a person picks on any of their accounts is where they count.
pub(crate) async fn set_unit_in(tx: &mut Tx, id: PersonId, unit_code: Option<&str>) -> Result<()> {
    if let Some(primary) = set_unit_one(tx, id, unit_code).await? {
        set_unit_one(tx, primary, unit_code).await?;
    }
    Ok(())
}

/// [`set_unit_in`] for one account; the primary it is linked to, if any (and if it moved).
async fn set_unit_one(
    tx: &mut Tx,
    id: PersonId,
    unit_code: Option<&str>,
) -> Result<Option<PersonId>> {
    // Lock the row before reading it (a no-op write works on both databases): on PostgreSQL
    // two moves of the same person at once would otherwise both read the old unit and count
    // the person twice. The read below then sees the other move's result.
    sqlx::query("UPDATE people SET unit_code = unit_code WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let row: Option<PlaceRow> = sqlx::query_as(
        "SELECT unit_code, confirmed_at, verified_at, linked_to FROM people WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((old, confirmed, verified, linked)) = row else {
        bail!("unknown person {id}");
    };
    if old.as_deref() == unit_code {
        return Ok(linked);
    }
    sqlx::query("UPDATE people SET unit_code = $1 WHERE id = $2")
        .bind(unit_code.map(str::to_string))
        .bind(id)
        .execute(&mut **tx)
        .await?;
    if linked.is_some() {
        return Ok(linked);
    }
    let one = Counters {
        members: 1,
        confirmed: i64::from(confirmed.is_some()),
        verified: i64::from(verified.is_some()),
        reported: 0,
    };
    let minus = Counters {
        members: -one.members,
        confirmed: -one.confirmed,
        verified: -one.verified,
        reported: 0,
    };
    let mut changes = Vec::new();
    if let Some(old) = old.as_deref() {
        changes.push((old, minus));
    }
    if let Some(new) = unit_code {
        changes.push((new, one));
    }
    // Both units at once, so the rows are locked in one order (no deadlock on PostgreSQL).
    Store::adjust_counters_many(tx, &changes).await?;
    Ok(None)
}
