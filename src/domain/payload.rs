//! Deep-link start payloads (`t.me/<bot>?start=<payload>`).
//!
//! Telegram allows `A-Z a-z 0-9 _ -` and at most 64 characters. The bot's own payloads are a
//! one-letter tag, an underscore and a value: `u_<unit code>` joins a unit, `r_<ref code>` is a
//! person's share link, `l_<token>` is a leader invitation.

/// A parsed start payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartPayload {
    /// Join this unit (its code; whether it exists is checked later).
    Unit(String),
    /// Invited by the person with this share code.
    Referral(String),
    /// A one-time leader invitation token.
    LeaderInvite(String),
}

/// Why a payload was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadError {
    /// Longer than 64 characters, or characters outside the allowed alphabet.
    Malformed,
    /// Well-formed, but not a payload this bot makes.
    Unknown,
}

impl StartPayload {
    /// The longest payload Telegram delivers.
    pub const MAX_LEN: usize = 64;

    /// Parses the text that followed `/start `.
    pub fn parse(raw: &str) -> Result<StartPayload, PayloadError> {
        let s = raw.trim();
        if s.is_empty()
            || s.len() > Self::MAX_LEN
            || !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(PayloadError::Malformed);
        }
        let (tag, value) = s.split_once('_').ok_or(PayloadError::Unknown)?;
        if value.is_empty() {
            return Err(PayloadError::Unknown);
        }
        match tag {
            "u" => Ok(StartPayload::Unit(value.replace('_', "."))),
            "r" => Ok(StartPayload::Referral(value.to_string())),
            "l" => Ok(StartPayload::LeaderInvite(value.to_string())),
            _ => Err(PayloadError::Unknown),
        }
    }

    /// The payload text for a deep link. Unit codes may hold '.', which Telegram does not
    /// allow, so it travels as '_'.
    pub fn encode(&self) -> String {
        match self {
            StartPayload::Unit(code) => format!("u_{}", code.replace('.', "_")),
            StartPayload::Referral(code) => format!("r_{code}"),
            StartPayload::LeaderInvite(token) => format!("l_{token}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        for p in [
            StartPayload::Unit("80".into()),
            StartPayload::Unit("80-POST.2".into()),
            StartPayload::Referral("Ab3_x".into()),
            StartPayload::LeaderInvite("tok-123".into()),
        ] {
            assert_eq!(StartPayload::parse(&p.encode()), Ok(p));
        }
    }

    #[test]
    fn bad_payloads_are_refused() {
        assert_eq!(StartPayload::parse("u_80 x"), Err(PayloadError::Malformed));
        assert_eq!(
            StartPayload::parse(&"u".repeat(65)),
            Err(PayloadError::Malformed)
        );
        assert_eq!(StartPayload::parse("ü_80"), Err(PayloadError::Malformed));
        assert_eq!(StartPayload::parse("x_80"), Err(PayloadError::Unknown));
        assert_eq!(StartPayload::parse("u_"), Err(PayloadError::Unknown));
        assert_eq!(StartPayload::parse("hello"), Err(PayloadError::Unknown));
    }
}
