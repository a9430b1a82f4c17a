//! The reach preview of a broadcast: before confirming, the leader sees per platform who can
//! be reached now for free, who at a cost (count, price, total, budget left), who cannot
//! (window closed, blocked or unfollowed, opted out) and how long sending takes at the
//! account's limits (with paid speed, what it costs in Stars). The same plan then queues the
//! broadcast, so the summary reports the classes the preview showed.

use anyhow::Result;

use super::keys::*;
use crate::conversation::engine::Engine;
use crate::conversation::{Action, Button, Reply};
use crate::domain::{Locale, Platform, UnitCode};
use crate::i18n::Msg;
use crate::reach::estimate::{self, Classes};
use crate::reach::{PaidSpeed, ReachRules, Spend};
use crate::store::{Audience, ReachPlan};

/// One platform's part of a broadcast's audience.
#[derive(Debug, Clone)]
pub(crate) struct PlatformReach {
    /// The platform.
    pub platform: Platform,
    /// How its people can be reached now.
    pub classes: Classes,
    /// Its account's rules.
    pub rules: ReachRules,
    /// What is left of the account's monthly budget.
    pub budget_left: i64,
    /// Messages per second the account sends at (`None`: no limit).
    pub per_sec: Option<u32>,
}

impl PlatformReach {
    /// Billed recipients queued under `spend`, and their cost.
    pub fn billed(&self, spend: Spend) -> (i64, i64) {
        estimate::billed_within_budget(
            spend,
            self.classes.billed,
            self.rules.price,
            self.budget_left,
        )
    }

    /// Messages that go out under `spend`.
    pub fn sending(&self, spend: Spend) -> i64 {
        self.classes.free + self.billed(spend).0
    }

    /// The paid speed usable here, for a non-empty send.
    pub fn paid(&self) -> Option<PaidSpeed> {
        self.rules.paid_speed
    }
}

/// The preview of a whole audience.
#[derive(Debug, Clone)]
pub(crate) struct ReachPreview {
    /// Each platform with people in the audience.
    pub platforms: Vec<PlatformReach>,
    /// When it holds.
    pub now: i64,
}

impl ReachPreview {
    /// The plan that queues the broadcast under `spend`.
    pub fn plan(&self, spend: Spend) -> ReachPlan {
        ReachPlan {
            now: self.now,
            rules: self
                .platforms
                .iter()
                .map(|p| (p.platform, p.rules))
                .collect(),
            billed_allowed: self
                .platforms
                .iter()
                .map(|p| (p.platform, p.billed(spend).0))
                .collect(),
            spend,
        }
    }

    /// Whether some billed recipients fit in a budget.
    pub fn billed_possible(&self) -> bool {
        self.platforms
            .iter()
            .any(|p| p.billed(Spend::FreeAndBilled).0 > 0)
    }

    /// Whether some platform of the audience has a paid speed.
    pub fn paid_possible(&self) -> bool {
        self.platforms
            .iter()
            .any(|p| p.paid().is_some() && p.sending(Spend::FreeAndBilled) > 0)
    }

    /// Stars (tenths) paid speed costs over the audience.
    pub fn paid_stars(&self) -> i64 {
        self.platforms
            .iter()
            .filter_map(|p| {
                p.paid()
                    .map(|s| estimate::paid_stars(p.sending(Spend::PaidSpeed), &s).1)
            })
            .sum()
    }

    /// The paragraphs that tell it, in `locale`; paid speed only for an administrator.
    pub fn paragraphs(&self, locale: Locale, is_admin: bool) -> Vec<Msg> {
        let mut out = vec![Msg::new(&BC_REACH_HEAD)];
        for p in &self.platforms {
            let c = &p.classes;
            let mut parts = vec![
                Msg::new(&BC_REACH_PLATFORM)
                    .arg("platform", p.platform.as_str())
                    .arg("free", c.free),
            ];
            if c.billed > 0 {
                let (affordable, _) = p.billed(Spend::FreeAndBilled);
                parts.push(
                    Msg::new(&BC_REACH_BILLED)
                        .arg("count", c.billed)
                        .arg("price", estimate::vnd(p.rules.price, locale))
                        .arg("total", estimate::vnd(c.billed * p.rules.price, locale))
                        .arg("left", estimate::vnd(p.budget_left, locale))
                        .arg("affordable", affordable),
                );
            }
            if c.unreachable() > 0 {
                parts.push(
                    Msg::new(&BC_REACH_UNREACHABLE)
                        .arg("count", c.unreachable())
                        .arg("closed", c.window_closed)
                        .arg("blocked", c.blocked)
                        .arg("opted", c.opted_out),
                );
            }
            let sending = p.sending(Spend::FreeOnly);
            if let (Some(rate), Some(secs)) = (p.per_sec, estimate::send_secs(sending, p.per_sec))
                && sending > 0
            {
                parts.push(
                    Msg::new(&BC_REACH_TIME)
                        .arg("time", estimate::duration(secs))
                        .arg("rate", i64::from(rate)),
                );
            }
            if is_admin && let Some(speed) = p.paid() {
                let n = p.sending(Spend::PaidSpeed);
                if let Some(secs) = estimate::send_secs(n, Some(speed.per_sec)) {
                    parts.push(
                        Msg::new(&BC_REACH_PAID)
                            .arg("time", estimate::duration(secs))
                            .arg(
                                "stars",
                                estimate::stars(estimate::paid_stars(n, &speed).1, locale),
                            ),
                    );
                }
            }
            out.push(
                Msg::new(&BC_REACH_LINE).arg(
                    "parts",
                    parts
                        .iter()
                        .map(|m| crate::i18n::render(locale, m))
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
            );
        }
        out
    }

    /// The send buttons: free only (the default, the plain confirm), billed when a budget
    /// pays for some, paid speed for an administrator where an account has it.
    pub fn buttons(&self, id: i64, locale: Locale, is_admin: bool) -> Vec<Vec<Button>> {
        let mut rows = Vec::new();
        for spend in estimate::spend_choices(is_admin, self.billed_possible(), self.paid_possible())
        {
            let button = match spend {
                Spend::FreeOnly => {
                    Button::action(Msg::new(&BTN_BC_CONFIRM), Action::BroadcastConfirm(id))
                }
                Spend::FreeAndBilled => {
                    let (n, cost) = self.platforms.iter().fold((0, 0), |(n, c), p| {
                        let (pn, pc) = p.billed(Spend::FreeAndBilled);
                        (n + pn, c + pc)
                    });
                    Button::action(
                        Msg::new(&BTN_BC_SEND_BILLED)
                            .arg("count", n)
                            .arg("cost", estimate::vnd(cost, locale)),
                        Action::BroadcastConfirmSpend(id, spend),
                    )
                }
                Spend::PaidSpeed => Button::action(
                    Msg::new(&BTN_BC_SEND_PAID)
                        .arg("stars", estimate::stars(self.paid_stars(), locale)),
                    Action::BroadcastConfirmSpend(id, spend),
                ),
            };
            rows.push(vec![button]);
        }
        rows
    }
}

impl Engine {
    /// How a broadcast to `unit`'s `audience` reaches people now, per platform.
    pub(crate) async fn reach_preview(
        &self,
        unit: &UnitCode,
        audience: Audience,
    ) -> Result<ReachPreview> {
        let now = self.store.now();
        let platforms = self.platforms();
        let base = ReachPlan {
            now,
            rules: Platform::ALL
                .iter()
                .map(|p| (*p, platforms.reach_rules(*p)))
                .collect(),
            ..ReachPlan::default()
        };
        let tz = self
            .settings
            .campaign
            .tz()
            .unwrap_or(chrono_tz::Asia::Ho_Chi_Minh);
        let month = estimate::month(now, tz);
        let mut out = Vec::new();
        for (platform, classes) in self.store.audience_reach(unit, audience, &base).await? {
            let rules = platforms.reach_rules(platform);
            // Each account of the platform spends its own budget and sends at its own rate,
            // side by side: the platform's part has what they have together.
            let mut budget_left = 0;
            let mut per_sec: Option<u32> = None;
            for account in platforms.account_ids(platform) {
                let own = platforms.account_reach_rules(&account);
                if own.monthly_budget > 0 {
                    budget_left +=
                        (own.monthly_budget - self.store.spent(&account, &month).await?).max(0);
                }
                if let Some(rate) = platforms.limits(&account).and_then(|l| l.global_per_sec) {
                    per_sec = Some(per_sec.unwrap_or(0).saturating_add(rate));
                }
            }
            out.push(PlatformReach {
                platform,
                classes,
                rules,
                budget_left,
                per_sec,
            });
        }
        Ok(ReachPreview {
            platforms: out,
            now,
        })
    }

    /// Appends the reach preview and the send buttons to `reply`.
    pub(crate) async fn with_reach_preview(
        &self,
        reply: Reply,
        id: i64,
        unit: &UnitCode,
        audience: Audience,
        locale: Locale,
        is_admin: bool,
    ) -> Result<Reply> {
        let preview = self.reach_preview(unit, audience).await?;
        let mut reply = reply;
        for m in preview.paragraphs(locale, is_admin) {
            reply = reply.para(m);
        }
        for row in preview.buttons(id, locale, is_admin) {
            reply = reply.row(row);
        }
        Ok(reply)
    }
}
