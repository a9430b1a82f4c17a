//! What an inbound event's turn leaves behind (the person's new state, the replies) is
//! written when its transaction commits, together with the turns of every event that shares
//! it: one `UPDATE` for the states and one `INSERT` for the replies per group, instead of
//! two statements per event. Each statement is a round trip to the connection (on SQLite, to
//! its thread and back), and a group's works take the connection in turn: fewer statements
//! per event is what lets more events through the one writer.

use std::sync::{Arc, LazyLock};

use anyhow::Result;
use sqlx::{AnyConnection, AssertSqlSafe};

use super::Store;
use super::outbox::{Enqueued, NewOutboxItem};
use super::people::{SAVE_STATE_SQL, TOUCH_EVERY_MS};
use crate::clock::Millis;
use crate::domain::{PersonId, State};

/// The turns of a transaction's works, written just before it commits
/// ([`Store::queue_turn`]).
#[derive(Default)]
pub(super) struct Turns {
    /// New states: the person, the state, when.
    saves: Vec<(PersonId, String, Millis)>,
    /// Replies, in the order they were queued.
    items: Vec<NewOutboxItem>,
}

impl Turns {
    /// Adds one work's turn.
    pub(super) fn add(
        &mut self,
        save: Option<(PersonId, &State)>,
        items: Vec<NewOutboxItem>,
        now: Millis,
    ) {
        if let Some((id, state)) = save {
            // A person saved twice in one transaction keeps the later state.
            self.saves.retain(|(known, _, _)| *known != id);
            self.saves.push((id, state.to_json(), now));
        }
        self.items.extend(items);
    }
}

/// Saves per `UPDATE` (four parameters each).
const SAVES_CHUNK: usize = 64;

impl Store {
    /// Writes `turns` on `conn` (the transaction about to commit): the states, then the
    /// replies, claimed for this process's senders as [`Store::enqueue_replies_in`] claims
    /// them; rows left for a sender's claim are announced to the other replicas.
    pub(super) async fn write_turns(
        &self,
        conn: &mut AnyConnection,
        turns: Turns,
    ) -> Result<Enqueued> {
        for chunk in turns.saves.chunks(SAVES_CHUNK) {
            save_states(conn, chunk).await?;
        }
        let now = self.now();
        let queued = match turns.items.is_empty() {
            true => Enqueued::default(),
            false => self.enqueue_replies_in(conn, now, &turns.items).await?,
        };
        if queued.waiting {
            self.announce_outbox_in(conn).await?;
        }
        Ok(queued)
    }
}

/// Saves the states of `rows` ((person, state, when)) in one statement, as
/// [`SAVE_STATE_SQL`] saves one: a save that would change nothing writes nothing. The rows
/// are padded to a power of two with rows that match nobody (person 0), so the statement
/// comes in seven shapes, each prepared once per connection.
async fn save_states(conn: &mut AnyConnection, rows: &[(PersonId, String, Millis)]) -> Result<()> {
    let query = match rows {
        [(id, state, now)] => sqlx::query(AssertSqlSafe(SAVE_STATE_SQL))
            .bind(state.clone())
            .bind(*now)
            .bind(*id)
            .bind(now - TOUCH_EVERY_MS),
        _ => {
            let padded = rows.len().next_power_of_two();
            let mut query = sqlx::query(AssertSqlSafe(save_states_sql_cached(padded)));
            for (id, state, now) in rows {
                query = query
                    .bind(*id)
                    .bind(state.clone())
                    .bind(*now)
                    .bind(now - TOUCH_EVERY_MS);
            }
            for _ in rows.len()..padded {
                query = query.bind(NOBODY).bind("").bind(0_i64).bind(0_i64);
            }
            query
        }
    };
    query.execute(&mut *conn).await?;
    Ok(())
}

/// A person id no row has (ids start at 1): the padding of [`save_states`].
const NOBODY: PersonId = 0;

/// [`save_states_sql`] for `rows` (a power of two), built once.
fn save_states_sql_cached(rows: usize) -> Arc<str> {
    static BUILT: super::Built<usize> = LazyLock::new(Default::default);
    super::built(&BUILT, rows, || save_states_sql(rows))
}

/// [`SAVE_STATE_SQL`] for `rows` people: each row's parameters are the person, the state,
/// the time and the time a minute before (the `VALUES` columns `column1` to `column4`, the
/// names SQLite and PostgreSQL both give them).
fn save_states_sql(rows: usize) -> String {
    format!(
        "UPDATE people SET state = v.column2, last_activity_at = v.column3, reminders_sent = 0, \
         started = 1, unreachable = 0, unreachable_reason = NULL, reminder_due_at = NULL, \
         reminder_until = NULL FROM (VALUES {}) AS v WHERE people.id = v.column1 \
         AND NOT (people.state = v.column2 AND people.last_activity_at <= v.column3 \
         AND people.last_activity_at >= v.column4 AND people.reminders_sent = 0 \
         AND people.started = 1 AND people.unreachable = 0 \
         AND people.unreachable_reason IS NULL AND people.reminder_due_at IS NULL \
         AND people.reminder_until IS NULL)",
        super::values_rows(rows, 4, "({1}, {2}, {3}, {4})")
    )
}
