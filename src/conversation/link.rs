//! `/link`: one person, several platforms. `/link` alone shows a one-time code; `/link CODE`
//! typed on another platform links that account to the one that showed the code, so the
//! person counts once as a member and once as a confirmation (see
//! [`Store::link_redeem`](crate::store::Store::link_redeem)).

use anyhow::Result;

use super::engine::{Ctx, Engine};
use super::{Reply, Turn};
use crate::i18n::Msg;
use crate::store::links::LinkOutcome;

/// How long a link code works.
pub const LINK_CODE_TTL_MS: i64 = 10 * 60 * 1000;

/// Wrong codes an account may type per hour: with codes of about 30 bits that live ten
/// minutes, guessing one is hopeless.
pub const MAX_LINK_FAILS_PER_HOUR: i64 = 5;

/// Message keys of account linking.
pub mod keys {
    crate::define_keys! {
        LINK_CODE = "link-code" [code, minutes];
        LINK_DONE = "link-done" [];
        LINK_INVALID = "link-invalid" [];
        LINK_SAME = "link-same" [];
        LINK_ALREADY = "link-already" [];
        LINK_TOO_MANY = "link-too-many" [minutes];
    }
}

use keys::*;

impl Engine {
    /// `/link` or `/link CODE`.
    pub(super) async fn link(&self, ctx: &Ctx<'_>, args: &str) -> Result<Turn> {
        let code = args.trim();
        if code.is_empty() {
            let code = self
                .store
                .link_code_create(ctx.person.id, LINK_CODE_TTL_MS)
                .await?;
            return Ok(Turn::reply(Reply::to_sender(
                Msg::new(&LINK_CODE)
                    .arg("code", code)
                    .arg("minutes", LINK_CODE_TTL_MS / 60_000),
            )));
        }
        // Wrong codes are counted per account and clock hour: "hour:count".
        let now = self.store.now();
        let hour = now / 3_600_000;
        let fails_key = format!("link.fail.{}", ctx.person.id);
        let fails = match self.store.kv_get(&fails_key).await? {
            Some(v) => match v.split_once(':') {
                Some((h, n)) if h.parse::<i64>().ok() == Some(hour) => {
                    n.parse::<i64>().unwrap_or(0)
                }
                _ => 0,
            },
            None => 0,
        };
        if fails >= MAX_LINK_FAILS_PER_HOUR {
            let minutes = ((hour + 1) * 3_600_000 - now + 59_999) / 60_000;
            return Ok(Turn::reply(Reply::to_sender(
                Msg::new(&LINK_TOO_MANY).arg("minutes", minutes),
            )));
        }
        let key = match self.store.link_redeem(ctx.person.id, code).await? {
            LinkOutcome::Linked(_) => &LINK_DONE,
            LinkOutcome::AlreadyLinked => &LINK_ALREADY,
            LinkOutcome::Invalid => {
                self.store
                    .kv_set(&fails_key, &format!("{hour}:{}", fails + 1))
                    .await?;
                &LINK_INVALID
            }
            LinkOutcome::SameAccount => &LINK_SAME,
        };
        Ok(Turn::reply(Reply::to_sender(key)))
    }
}
