//! Finding a unit: search that ignores diacritics and case, and walking the tree with buttons.

use anyhow::Result;

use super::engine::{Ctx, Engine};
use super::keys::*;
use super::pager::Pager;
use super::{Action, Button, Reply, State, Turn};
use crate::domain::{UnitCode, fold};
use crate::i18n::Msg;
use crate::store::Unit;

/// Units per page when browsing.
const PAGE: usize = 8;
/// Search results shown.
const MAX_RESULTS: i64 = 8;

impl Engine {
    /// A unit's name, or its code when it is gone.
    pub(super) async fn unit_name(&self, code: &UnitCode) -> Result<String> {
        Ok(self
            .store
            .unit(code)
            .await?
            .map_or_else(|| code.to_string(), |u| u.name))
    }

    /// Whether the account the sender talks to serves `code` (it is under the account's
    /// root, or the account serves the whole country).
    pub(super) async fn serves_unit(&self, ctx: &Ctx<'_>, code: &UnitCode) -> Result<bool> {
        Ok(match &ctx.root {
            None => true,
            Some(root) => code == root || self.store.unit_within(code, root).await?,
        })
    }

    /// A link that opens a bot with `payload` about unit `code`: the sender's own account
    /// when it serves the unit, else an account of the same platform that does (the deepest
    /// root first: the province's bot rather than the national one), else the sender's.
    pub(super) async fn unit_link(
        &self,
        ctx: &Ctx<'_>,
        code: &UnitCode,
        payload: &crate::domain::StartPayload,
    ) -> Result<String> {
        if self.serves_unit(ctx, code).await? {
            return Ok(self.deep_link(ctx.account(), payload));
        }
        let mut best: Option<(usize, String)> = None;
        for account in self.platforms().accounts() {
            if account.platform() != ctx.platform() || !account.serves() {
                continue;
            }
            let depth = match account.root_unit() {
                None => 0,
                Some(root) if &root == code || self.store.unit_within(code, &root).await? => {
                    1 + self
                        .store
                        .unit(&root)
                        .await?
                        .map_or(0, |u| u.depth.max(0) as usize)
                }
                Some(_) => continue,
            };
            if best.as_ref().is_none_or(|(d, _)| depth > *d) {
                best = Some((depth, account.account_id().to_string()));
            }
        }
        let account = best.map_or_else(|| ctx.account().to_string(), |(_, id)| id);
        Ok(self.deep_link(&account, payload))
    }

    /// Searches for a unit by name among the units the account serves. Greetings, thanks
    /// and small talk get a short answer and the question again; "I don't know" gets the
    /// choice to skip the unit for now.
    pub(super) async fn search(&self, ctx: &Ctx<'_>, query: &str) -> Result<(State, Turn)> {
        let query = query.trim();
        if let Some(kind) = chatter(query) {
            let answer = match kind {
                Chatter::Hello => Msg::new(&SMALL_TALK_HELLO),
                Chatter::Thanks => Msg::new(&SMALL_TALK_THANKS),
                Chatter::Ok => Msg::new(&SMALL_TALK_OK),
                Chatter::DontKnow => {
                    let reply = Reply::to_sender(&UNIT_DONT_KNOW)
                        .row(vec![Button::action(
                            Msg::new(&BTN_SKIP_UNIT),
                            Action::SkipUnit,
                        )])
                        .row(vec![Button::action(
                            Msg::new(&BTN_BROWSE_UNITS),
                            Action::Browse(None, 0),
                        )]);
                    return Ok((State::AwaitingUnitSearch, Turn::reply(reply)));
                }
            };
            return Ok((
                State::AwaitingUnitSearch,
                Turn::replies(vec![Reply::to_sender(answer), self.unit_prompt()]),
            ));
        }
        if fold(query).chars().filter(|c| c.is_alphanumeric()).count() < 2 {
            return Ok((
                State::AwaitingUnitSearch,
                Turn::reply(Reply::to_sender(&SEARCH_TOO_SHORT)),
            ));
        }
        let shown: String = query.chars().take(60).collect();
        let found = self
            .store
            .search_units(query, MAX_RESULTS, ctx.root.as_ref())
            .await?;
        if found.is_empty() {
            let reply = Reply::to_sender(Msg::new(&SEARCH_NONE).arg("query", shown))
                .row(vec![Button::action(
                    Msg::new(&BTN_BROWSE_UNITS),
                    Action::Browse(None, 0),
                )])
                .row(vec![Button::action(
                    Msg::new(&BTN_SKIP_UNIT),
                    Action::SkipUnit,
                )]);
            return Ok((State::AwaitingUnitSearch, Turn::reply(reply)));
        }
        let mut reply = Reply::to_sender(
            Msg::new(&SEARCH_RESULTS)
                .arg("query", shown)
                .arg("count", found.len()),
        );
        for unit in &found {
            reply = reply.row(vec![self.unit_button(unit).await?]);
        }
        reply = reply.row(vec![Button::action(
            Msg::new(&BTN_BROWSE_UNITS),
            Action::Browse(None, 0),
        )]);
        Ok((State::AwaitingUnitSearch, Turn::reply(reply)))
    }

    /// A button that joins `unit`, labelled with its parent's name to tell namesakes apart.
    async fn unit_button(&self, unit: &Unit) -> Result<Button> {
        let label = match &unit.parent_code {
            Some(p) => Msg::new(&UNIT_LABEL_WITH_PARENT)
                .arg("unit", unit.name.clone())
                .arg("parent", self.unit_name(p).await?),
            None => Msg::new(&UNIT_LABEL_WITH_PARENT)
                .arg("unit", unit.name.clone())
                .arg("parent", unit.code.clone()),
        };
        Ok(Button::action(label, choose(unit)?))
    }

    /// One page of the units below `code` (the top units when `None`: those below `root`,
    /// the account's, when it has one). Units with units below them open; the others are
    /// chosen at once. A unit outside `root` is unknown.
    pub(super) async fn browse(
        &self,
        root: Option<&UnitCode>,
        code: Option<&UnitCode>,
        page: u32,
    ) -> Result<Reply> {
        let code = code.or(root);
        let outside = match (root, code) {
            (Some(r), Some(c)) => c != r && !self.store.unit_within(c, r).await?,
            _ => false,
        };
        let parent = match code {
            Some(c) => match self.store.unit(c).await? {
                Some(u) if !outside => Some(u),
                _ => {
                    return Ok(Reply::to_sender(&UNIT_UNKNOWN).row(vec![Button::action(
                        Msg::new(&BTN_BROWSE_UNITS),
                        Action::Browse(None, 0),
                    )]));
                }
            },
            None => None,
        };
        let children = self.store.children_opening(code).await?;
        let pager = Pager::new(children.len(), PAGE, page);
        let mut reply = match &parent {
            Some(p) => Reply::to_sender(Msg::new(&BROWSE_UNDER).arg("unit", p.name.clone())),
            None => Reply::to_sender(&BROWSE_TOP),
        };
        if let Some(p) = &parent {
            reply = reply.row(vec![Button::action(
                Msg::new(&BTN_CHOOSE_THIS).arg("unit", p.name.clone()),
                choose(p)?,
            )]);
        }
        for (unit, opens) in children.iter().skip(pager.offset()).take(PAGE) {
            let action = if *opens {
                Action::Browse(Some(code_of(unit)?), 0)
            } else {
                choose(unit)?
            };
            reply = reply.row(vec![Button::action(
                Msg::new(&UNIT_LABEL_WITH_PARENT)
                    .arg("unit", unit.name.clone())
                    .arg("parent", unit.code.clone()),
                action,
            )]);
        }
        let here = match &parent {
            Some(p) => Some(code_of(p)?),
            None => None,
        };
        reply = reply.row(
            pager.nav(Msg::new(&BTN_BACK_PAGE), Msg::new(&BTN_MORE), |page| {
                Action::Browse(here.clone(), page)
            }),
        );
        let mut bottom = Vec::new();
        if let Some(p) = &parent {
            let up = match &p.parent_code {
                Some(pp) => Some(UnitCode::parse(pp).map_err(anyhow::Error::msg)?),
                None => None,
            };
            bottom.push(Button::action(Msg::new(&BTN_UP), Action::Browse(up, 0)));
        }
        bottom.push(Button::action(
            Msg::new(&BTN_SEARCH_UNIT),
            Action::SearchUnit,
        ));
        Ok(reply.row(bottom))
    }
}

/// What a text typed instead of a unit name says, when it is not a unit name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Chatter {
    /// A greeting ("xin chào", "hi", "alo").
    Hello,
    /// Thanks.
    Thanks,
    /// An acknowledgement ("ok", "vâng", an emoji).
    Ok,
    /// The person does not know or cannot find their unit.
    DontKnow,
}

/// Greetings, by word (folded: no diacritics, lower case).
const HELLO_WORDS: &[&str] = &[
    "xin",
    "chao",
    "alo",
    "lo",
    "hi",
    "hello",
    "helo",
    "hallo",
    "hey",
    "yo",
    "good",
    "morning",
    "afternoon",
    "evening",
    "buoi",
    "sang",
    "chieu",
    "toi",
];
/// Thanks, by word.
const THANKS_WORDS: &[&str] = &[
    "cam", "on", "camon", "thanks", "thank", "thx", "tks", "cm", "nhieu", "lam", "much", "very",
];
/// Acknowledgements, by word.
const OK_WORDS: &[&str] = &[
    "ok", "oke", "okay", "okie", "okela", "vang", "da", "u", "uh", "um", "uhm", "yes", "roi",
    "duoc", "hihi", "haha", "hehe", "test", "bye", "tam", "biet",
];
/// Words that go with any of the above ("chào bạn", "cảm ơn ad ạ", "thank you").
const FILLER_WORDS: &[&str] = &[
    "a", "ban", "ad", "admin", "bot", "oi", "em", "anh", "chi", "nhe", "nha", "minh", "you", "so",
    "there", "ca", "the", "ha",
];
/// Phrases that say "I don't know my unit" or "skip it", as folded word sequences.
const DONT_KNOW: &[&str] = &[
    "khong biet",
    "chua biet",
    "ko biet",
    "k biet",
    "hong biet",
    "khong ro",
    "ko ro",
    "chua ro",
    "khong tim thay",
    "ko tim thay",
    "khong tim duoc",
    "khong thay",
    "khong co don vi",
    "bo qua",
    "de sau",
    "dont know",
    "don t know",
    "do not know",
    "not sure",
    "no idea",
    "idk",
    "cant find",
    "can t find",
    "cannot find",
    "could not find",
    "couldn t find",
    "skip",
];

/// Reads a text typed while the bot waits for a unit name: `None` when it may be a name.
pub(super) fn chatter(text: &str) -> Option<Chatter> {
    let folded: String = fold(text)
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let words: Vec<&str> = folded.split_whitespace().collect();
    if words.is_empty() {
        // Only emoji or punctuation.
        return (!text.trim().is_empty()).then_some(Chatter::Ok);
    }
    let padded = format!(" {} ", words.join(" "));
    if DONT_KNOW.iter().any(|p| padded.contains(&format!(" {p} "))) {
        return Some(Chatter::DontKnow);
    }
    let known = |w: &&str| {
        [HELLO_WORDS, THANKS_WORDS, OK_WORDS, FILLER_WORDS]
            .iter()
            .any(|list| list.contains(w))
    };
    if !words.iter().all(known) {
        return None;
    }
    let any = |list: &[&str]| words.iter().any(|w| list.contains(w));
    if padded.contains(" cam on ") || any(&["camon", "thanks", "thank", "thx", "tks", "cm"]) {
        Some(Chatter::Thanks)
    } else if any(HELLO_WORDS) {
        Some(Chatter::Hello)
    } else if any(OK_WORDS) {
        Some(Chatter::Ok)
    } else {
        Some(Chatter::Hello)
    }
}

fn code_of(unit: &Unit) -> Result<UnitCode> {
    UnitCode::parse(&unit.code).map_err(anyhow::Error::msg)
}

fn choose(unit: &Unit) -> Result<Action> {
    Ok(Action::ChooseUnit(code_of(unit)?))
}

#[cfg(test)]
mod tests {
    use super::{Chatter, chatter};

    #[test]
    fn small_talk_is_told_apart_from_unit_names() {
        for (text, want) in [
            ("xin chào", Some(Chatter::Hello)),
            ("Xin chào bạn!", Some(Chatter::Hello)),
            ("hi", Some(Chatter::Hello)),
            ("Alo", Some(Chatter::Hello)),
            ("alo alo", Some(Chatter::Hello)),
            ("chào ad ạ", Some(Chatter::Hello)),
            ("Cảm ơn", Some(Chatter::Thanks)),
            ("cảm ơn bạn nhiều", Some(Chatter::Thanks)),
            ("thank you", Some(Chatter::Thanks)),
            ("ok", Some(Chatter::Ok)),
            ("Vâng ạ", Some(Chatter::Ok)),
            ("👍", Some(Chatter::Ok)),
            ("tôi không biết", Some(Chatter::DontKnow)),
            ("Không tìm thấy đơn vị của tôi", Some(Chatter::DontKnow)),
            ("I don't know", Some(Chatter::DontKnow)),
            ("can't find it", Some(Chatter::DontKnow)),
            ("Tân An", None),
            ("tan an", None),
            ("Kiến Tường", None),
            ("Phường 1", None),
            ("794", None),
            ("Xã An Thạnh", None),
            ("", None),
        ] {
            assert_eq!(chatter(text), want, "{text:?}");
        }
    }
}
