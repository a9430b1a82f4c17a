-- Zalo and Messenger: platform credentials that rotate, and one-time codes that link accounts.

-- OAuth tokens the bot renews itself (Zalo OA: single-use, rotating refresh tokens).
CREATE TABLE platform_tokens (
    name                    TEXT PRIMARY KEY,
    access_token            TEXT,
    access_expires_at       BIGINT NOT NULL DEFAULT 0,
    refresh_token           TEXT NOT NULL,
    -- The refresh token spent to get the current pair (diagnostics after a failed refresh).
    previous_refresh_token  TEXT,
    -- The operator-supplied refresh token last imported from the environment: a different
    -- value in the environment means the operator re-authorised, and it replaces the stored one.
    seed_refresh_token      TEXT,
    -- A lease: the process refreshing holds it until this time, so two replicas never spend
    -- the same single-use refresh token.
    refreshing_until        BIGINT NOT NULL DEFAULT 0,
    updated_at              BIGINT NOT NULL
);

-- `/link` codes: shown on one platform, typed on another.
CREATE TABLE link_codes (
    code        TEXT PRIMARY KEY,
    person_id   BIGINT NOT NULL REFERENCES people(id),
    expires_at  BIGINT NOT NULL
);
CREATE INDEX link_codes_person ON link_codes(person_id);
CREATE INDEX people_chat ON people(platform, chat_id);
CREATE INDEX people_linked ON people(linked_to);
