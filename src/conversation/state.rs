//! What the bot is waiting for from a person, persisted as JSON in `people.state` so a
//! restart mid-conversation continues where the person was.

use serde::{Deserialize, Serialize};

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
        unit: String,
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
    use super::State;

    #[test]
    fn states_round_trip_and_garbage_is_idle() {
        for s in [State::Idle, State::AwaitingUnitSearch] {
            assert_eq!(State::from_json(&s.to_json()), s);
        }
        assert_eq!(State::from_json("{\"step\":\"martian\"}"), State::Idle);
        assert_eq!(State::from_json("not json"), State::Idle);
    }
}
