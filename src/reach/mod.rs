//! Reach: whom each platform account lets the bot write to now, and at what cost.
//!
//! Every account describes its platform's rules as data ([`ReachRules`], part of the
//! adapter's [`Capabilities`](crate::platform::Capabilities)); the rest of the code asks
//! [`classify`] for one person at one moment and never names a platform:
//!
//! - Telegram: no window, always free at the standard rate; a paid broadcast
//!   (`allow_paid_broadcast`) goes faster and costs Stars ([`PaidSpeed`]).
//! - Messenger: free for 24 hours after the person's last message, then unreachable until
//!   they write again (no message tag fits a campaign message).
//! - Zalo OA: free for 48 hours after the last interaction, billed from 48 hours to 7 days,
//!   refused after 7 days.
//!
//! A person with several linked accounts is reached once, on the cheapest account that can
//! reach them now ([`Reach::cost_rank`]).

use serde::{Deserialize, Serialize};

pub mod estimate;

/// One account's reach rules, as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReachRules {
    /// Free for this long after the person's last message, in ms (`None`: no window, a
    /// person who started the bot can always be written to for free).
    pub free_ms: Option<i64>,
    /// After the free window, messages are billed until this long after the person's last
    /// message, in ms (`None`: no billed period; past the free window means unreachable).
    pub billed_until_ms: Option<i64>,
    /// The price of one billed message, in the platform's currency's smallest unit (VND
    /// for Zalo); 0 when nothing is billed.
    pub price: i64,
    /// The most that billed messages may cost in one calendar month (same unit); never
    /// exceeded. 0 turns billed messages off.
    pub monthly_budget: i64,
    /// A faster, paid sending mode for broadcasts, when the platform has one.
    pub paid_speed: Option<PaidSpeed>,
}

impl ReachRules {
    /// No window, nothing billed, no paid mode (the console, and the default).
    pub const ALWAYS_FREE: ReachRules = ReachRules {
        free_ms: None,
        billed_until_ms: None,
        price: 0,
        monthly_budget: 0,
        paid_speed: None,
    };
}

/// A platform's paid broadcast mode (Telegram: `allow_paid_broadcast`, up to 1000
/// messages/s, 0.1 Star per message above the free 30/s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaidSpeed {
    /// Messages per second in paid mode.
    pub per_sec: u32,
    /// Messages per second that stay free (Telegram: 30).
    pub free_per_sec: u32,
    /// The price of one paid message, in tenths of a Star (Telegram: 1 = 0.1 Star).
    pub star_tenths_per_msg: i64,
    /// The most Stars (in tenths) one paid broadcast may spend; never exceeded.
    pub star_tenths_budget: i64,
}

/// Why a person cannot be reached now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unreachable {
    /// The platform's messaging window has closed; they can be reached when they write again.
    WindowClosed,
    /// They blocked the bot, unfollowed the account or left (the platform said so).
    Blocked,
    /// They asked not to get messages.
    OptedOut,
}

/// How a person can be reached at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reach {
    /// A message costs nothing now.
    Free,
    /// A message can go now, at `price` (the account's [`ReachRules::price`]).
    Billed {
        /// The price of one message.
        price: i64,
    },
    /// No message can go now.
    Unreachable(Unreachable),
}

impl Reach {
    /// Orders the ways to reach one person with several linked accounts: lower is cheaper
    /// (free, then billed by price, then unreachable).
    pub fn cost_rank(&self) -> (u8, i64) {
        match self {
            Reach::Free => (0, 0),
            Reach::Billed { price } => (1, *price),
            Reach::Unreachable(_) => (2, 0),
        }
    }
}

/// What a person's row says about reaching them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contact {
    /// When they last wrote to (or interacted with) the account, in ms since the epoch.
    pub last_inbound_at: i64,
    /// The platform said they blocked the bot, unfollowed or left.
    pub blocked: bool,
    /// They asked not to get messages.
    pub opted_out: bool,
}

/// How `contact` can be reached under `rules` at `now` (ms since the epoch).
pub fn classify(rules: &ReachRules, contact: &Contact, now: i64) -> Reach {
    if contact.opted_out {
        return Reach::Unreachable(Unreachable::OptedOut);
    }
    if contact.blocked {
        return Reach::Unreachable(Unreachable::Blocked);
    }
    let Some(free_ms) = rules.free_ms else {
        return Reach::Free;
    };
    let since = now.saturating_sub(contact.last_inbound_at);
    if since <= free_ms {
        return Reach::Free;
    }
    match rules.billed_until_ms {
        Some(until) if since <= until && rules.monthly_budget > 0 && rules.price > 0 => {
            Reach::Billed { price: rules.price }
        }
        _ => Reach::Unreachable(Unreachable::WindowClosed),
    }
}

/// What a leader chose to spend on one broadcast; stored with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Spend {
    /// Only people reachable for free (the default).
    #[default]
    FreeOnly,
    /// Free, and billed within the account's monthly budget.
    FreeAndBilled,
    /// Free and billed, and the platform's paid speed where it has one (administrators only).
    PaidSpeed,
}

impl Spend {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Spend::FreeOnly => "free",
            Spend::FreeAndBilled => "billed",
            Spend::PaidSpeed => "paid_speed",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Spend> {
        match s {
            "free" => Some(Spend::FreeOnly),
            "billed" => Some(Spend::FreeAndBilled),
            "paid_speed" => Some(Spend::PaidSpeed),
            _ => None,
        }
    }

    /// Whether a person reached as `reach` gets the message under this choice.
    pub fn allows(self, reach: Reach) -> bool {
        match reach {
            Reach::Free => true,
            Reach::Billed { .. } => self != Spend::FreeOnly,
            Reach::Unreachable(_) => false,
        }
    }
}

/// Why a message was skipped at the moment of sending, as a broadcast's summary counts it
/// (the classes of the reach preview).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipClass {
    /// Outside the platform's window (free and, where there is one, billed).
    OutsideWindow,
    /// Reachable only at a cost, and the broadcast was free only.
    BilledNotChosen,
    /// Reachable only at a cost, and the month's budget did not allow it.
    OverBudget,
    /// Blocked the bot, unfollowed or left.
    Blocked,
    /// Asked not to get messages.
    OptedOut,
}

/// The reason recorded for a person reachable only at a cost when the broadcast was free
/// only.
pub const SKIPPED_BILLED_NOT_CHOSEN: &str = "billed: not chosen for this broadcast";
/// The reason recorded for a billed message the month's budget did not allow.
pub const SKIPPED_OVER_BUDGET: &str = "billed: over the monthly budget";
/// The reason recorded for a person who blocked the bot (found at the moment of sending).
pub const SKIPPED_BLOCKED: &str = "unreachable: blocked the bot or unfollowed";
/// The reason recorded for a person who opted out since the broadcast was queued.
pub const SKIPPED_OPTED_OUT: &str = "opted out";

impl SkipClass {
    /// The class of a skipped row's recorded reason (`None`: not a reach reason). Window
    /// reasons are the platforms' own words, which all start with "outside".
    pub fn of(reason: &str) -> Option<SkipClass> {
        match reason {
            SKIPPED_BILLED_NOT_CHOSEN => Some(SkipClass::BilledNotChosen),
            SKIPPED_OVER_BUDGET => Some(SkipClass::OverBudget),
            SKIPPED_BLOCKED => Some(SkipClass::Blocked),
            SKIPPED_OPTED_OUT => Some(SkipClass::OptedOut),
            r if r.starts_with("outside ") => Some(SkipClass::OutsideWindow),
            _ => None,
        }
    }
}

/// The ledger period of one paid broadcast: its Stars are reserved under the account's id
/// and this period ([`Store::reserve_spend`](crate::store::Store::reserve_spend)), so
/// [`Store::spent`](crate::store::Store::spent) reads what it spent (in tenths of a Star).
pub fn broadcast_period(broadcast_id: i64) -> String {
    format!("broadcast:{broadcast_id}")
}

/// How many of a paid broadcast's `recipients` go with the paid flag: every one while the
/// budget lasts (each reserves [`PaidSpeed::star_tenths_per_msg`]); the rest go at the free
/// rate, unbilled.
pub fn paid_messages(recipients: u64, paid: &PaidSpeed) -> u64 {
    if paid.star_tenths_budget <= 0 {
        return 0;
    }
    match u64::try_from(paid.star_tenths_per_msg) {
        Ok(price) if price > 0 => {
            recipients.min(u64::try_from(paid.star_tenths_budget).unwrap_or(0) / price)
        }
        _ => recipients,
    }
}

/// What a paid broadcast to `recipients` costs, in tenths of a Star, as Telegram bills it:
/// 0.1 Star for each paid message beyond the free 30 in any second. Sent at the paid rate
/// without a pause, only the first `free_per_sec` messages fit in a second with fewer than
/// that many before them. 0 when the account has no paid speed.
pub fn paid_cost(recipients: u64, rules: &ReachRules) -> i64 {
    let Some(paid) = &rules.paid_speed else {
        return 0;
    };
    let billed = paid_messages(recipients, paid).saturating_sub(u64::from(paid.free_per_sec));
    i64::try_from(billed)
        .unwrap_or(i64::MAX)
        .saturating_mul(paid.star_tenths_per_msg.max(0))
}

/// The most a paid broadcast to `recipients` reserves in the ledger (tenths of a Star): the
/// price of every paid message, never more than the budget. Telegram bills at most this.
pub fn paid_reserve(recipients: u64, rules: &ReachRules) -> i64 {
    let Some(paid) = &rules.paid_speed else {
        return 0;
    };
    i64::try_from(paid_messages(recipients, paid))
        .unwrap_or(i64::MAX)
        .saturating_mul(paid.star_tenths_per_msg.max(0))
}

/// How long sending to `recipients` takes at the platform's overall rate `free_per_sec`
/// (Telegram: 30), or with `paid` speed when given (paid messages at its rate, those beyond
/// the budget at the free rate), in ms. Per-chat limits do not matter: each recipient gets
/// one message.
pub fn send_time_ms(recipients: u64, free_per_sec: u32, paid: Option<&PaidSpeed>) -> i64 {
    let at = |n: u64, per_sec: u32| -> f64 { n as f64 * 1000.0 / f64::from(per_sec.max(1)) };
    let ms = match paid {
        Some(p) if p.per_sec > 0 => {
            let fast = paid_messages(recipients, p);
            at(fast, p.per_sec) + at(recipients - fast, free_per_sec)
        }
        _ => at(recipients, free_per_sec),
    };
    ms.ceil() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600 * 1000;

    fn zalo() -> ReachRules {
        ReachRules {
            free_ms: Some(48 * H),
            billed_until_ms: Some(7 * 24 * H),
            price: 55,
            monthly_budget: 1_000_000,
            paid_speed: None,
        }
    }

    fn messenger() -> ReachRules {
        ReachRules {
            free_ms: Some(24 * H),
            billed_until_ms: None,
            price: 0,
            monthly_budget: 0,
            paid_speed: None,
        }
    }

    fn contact(hours_ago: i64) -> Contact {
        Contact {
            last_inbound_at: 1_000 * H - hours_ago * H,
            blocked: false,
            opted_out: false,
        }
    }

    #[test]
    fn windows_free_billed_and_closed() {
        let now = 1_000 * H;
        assert_eq!(classify(&zalo(), &contact(47), now), Reach::Free);
        assert_eq!(
            classify(&zalo(), &contact(49), now),
            Reach::Billed { price: 55 }
        );
        assert_eq!(
            classify(&zalo(), &contact(7 * 24 + 1), now),
            Reach::Unreachable(Unreachable::WindowClosed)
        );
        assert_eq!(classify(&messenger(), &contact(23), now), Reach::Free);
        assert_eq!(
            classify(&messenger(), &contact(25), now),
            Reach::Unreachable(Unreachable::WindowClosed)
        );
        assert_eq!(
            classify(&ReachRules::ALWAYS_FREE, &contact(10_000), now),
            Reach::Free
        );
    }

    #[test]
    fn without_a_budget_nothing_is_billed() {
        let rules = ReachRules {
            monthly_budget: 0,
            ..zalo()
        };
        assert_eq!(
            classify(&rules, &contact(49), 1_000 * H),
            Reach::Unreachable(Unreachable::WindowClosed)
        );
    }

    #[test]
    fn blocked_and_opted_out_come_first() {
        let mut c = contact(1);
        c.blocked = true;
        assert_eq!(
            classify(&zalo(), &c, 1_000 * H),
            Reach::Unreachable(Unreachable::Blocked)
        );
        c.opted_out = true;
        assert_eq!(
            classify(&zalo(), &c, 1_000 * H),
            Reach::Unreachable(Unreachable::OptedOut)
        );
    }

    #[test]
    fn spend_choices_and_cheapest_first() {
        assert!(!Spend::FreeOnly.allows(Reach::Billed { price: 1 }));
        assert!(Spend::FreeAndBilled.allows(Reach::Billed { price: 1 }));
        for s in [Spend::FreeOnly, Spend::FreeAndBilled, Spend::PaidSpeed] {
            assert_eq!(Spend::parse(s.as_str()), Some(s));
        }
        let mut ways = [
            Reach::Unreachable(Unreachable::WindowClosed),
            Reach::Billed { price: 55 },
            Reach::Free,
        ];
        ways.sort_by_key(Reach::cost_rank);
        assert_eq!(ways[0], Reach::Free);
    }

    #[test]
    fn skip_reasons_are_classified() {
        assert_eq!(
            SkipClass::of("outside interaction window"),
            Some(SkipClass::OutsideWindow)
        );
        assert_eq!(
            SkipClass::of("outside messaging window"),
            Some(SkipClass::OutsideWindow)
        );
        assert_eq!(
            SkipClass::of(SKIPPED_OVER_BUDGET),
            Some(SkipClass::OverBudget)
        );
        assert_eq!(
            SkipClass::of(SKIPPED_BILLED_NOT_CHOSEN),
            Some(SkipClass::BilledNotChosen)
        );
        assert_eq!(SkipClass::of("confirmed or stopped since queued"), None);
    }

    fn telegram(budget_stars: i64) -> ReachRules {
        ReachRules {
            paid_speed: Some(PaidSpeed {
                per_sec: 1000,
                free_per_sec: 30,
                star_tenths_per_msg: 1,
                star_tenths_budget: budget_stars * 10,
            }),
            ..ReachRules::ALWAYS_FREE
        }
    }

    #[test]
    fn paid_broadcast_cost_and_time() {
        // 100,000 at 1,000/s: 100 s; the first 30 are free, 99,970 × 0.1 Star.
        let rules = telegram(10_000);
        assert_eq!(paid_cost(100_000, &rules), 99_970);
        assert_eq!(paid_reserve(100_000, &rules), 100_000);
        assert_eq!(
            send_time_ms(100_000, 30, rules.paid_speed.as_ref()),
            100_000
        );
        assert_eq!(send_time_ms(3_000, 30, None), 100_000);
        // A budget of 500 Stars pays for 5,000 messages; the other 5,000 go at 30/s.
        let small = telegram(500);
        assert_eq!(paid_reserve(10_000, &small), 5_000);
        assert_eq!(paid_cost(10_000, &small), 4_970);
        assert_eq!(
            send_time_ms(10_000, 30, small.paid_speed.as_ref()),
            5_000 + 166_667
        );
        // Fewer than the free 30 cost nothing; no paid speed costs nothing.
        assert_eq!(paid_cost(20, &rules), 0);
        assert_eq!(paid_cost(100_000, &ReachRules::ALWAYS_FREE), 0);
        assert_eq!(broadcast_period(7), "broadcast:7");
    }
}
