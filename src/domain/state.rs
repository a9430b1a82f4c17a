//! What the bot is waiting for from a person, persisted as JSON in `people.state` so a
//! restart mid-conversation continues where the person was. It is a domain value so the store
//! hands out a parsed state.

use serde::{Deserialize, Serialize};

use super::UnitCode;

/// The person's place in the conversation. Most steps are driven by buttons that carry their
/// own context; the state only says how to read the next free text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum State {
    /// Nothing pending: free text gets the short help.
    #[default]
    Idle,
    /// The next text is a unit search.
    AwaitingUnitSearch,
    /// The next text is a broadcast to this unit's subtree.
    BroadcastText {
        /// The unit's code.
        unit: UnitCode,
    },
}

impl State {
    /// Reads a stored state; anything unreadable (an older version, a hand edit) is `Idle`.
    pub fn from_json(json: &str) -> State {
        serde_json::from_str(json).unwrap_or_default()
    }

    /// The stored form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| r#"{"step":"idle"}"#.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::{State, UnitCode};

    #[test]
    fn the_stored_form_is_unchanged() {
        let unit = UnitCode::parse("80").expect("code");
        let s = State::BroadcastText { unit };
        assert_eq!(s.to_json(), r#"{"step":"broadcast_text","unit":"80"}"#);
        assert_eq!(State::from_json(&s.to_json()), s);
        // A stored unit that is no code reads as idle, like any other unreadable state.
        assert_eq!(
            State::from_json(r#"{"step":"broadcast_text","unit":"8 0"}"#),
            State::Idle
        );
    }

    #[test]
    fn states_round_trip_and_garbage_is_idle() {
        for s in [State::Idle, State::AwaitingUnitSearch] {
            assert_eq!(State::from_json(&s.to_json()), s);
        }
        assert_eq!(State::from_json("{\"step\":\"martian\"}"), State::Idle);
        assert_eq!(State::from_json("not json"), State::Idle);
    }
}
