-- Core schema (PostgreSQL). Times are milliseconds since the Unix epoch (BIGINT) so that the same
-- queries run unchanged on SQLite and PostgreSQL through sqlx's Any driver.

CREATE TABLE units (
    code            TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    name_folded     TEXT NOT NULL,
    parent_code     TEXT REFERENCES units(code),
    kind            TEXT NOT NULL,
    population      BIGINT,
    target          DOUBLE PRECISION,
    depth           BIGINT NOT NULL DEFAULT 0,
    path            TEXT NOT NULL,
    -- Counters for the unit's own members (maintained on every change, never counted at query time).
    members         BIGINT NOT NULL DEFAULT 0,
    confirmed       BIGINT NOT NULL DEFAULT 0,
    verified        BIGINT NOT NULL DEFAULT 0,
    reported        BIGINT NOT NULL DEFAULT 0,
    -- The same counters summed over the unit and every unit below it.
    sub_members     BIGINT NOT NULL DEFAULT 0,
    sub_confirmed   BIGINT NOT NULL DEFAULT 0,
    sub_verified    BIGINT NOT NULL DEFAULT 0,
    sub_reported    BIGINT NOT NULL DEFAULT 0,
    updated_at      BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX units_parent ON units(parent_code);
CREATE INDEX units_path ON units(path);
CREATE INDEX units_folded ON units(name_folded);

CREATE TABLE people (
    id                  BIGSERIAL PRIMARY KEY,
    platform            TEXT NOT NULL,
    platform_user_id    TEXT NOT NULL,
    chat_id             TEXT NOT NULL,
    display_name        TEXT NOT NULL DEFAULT '',
    locale              TEXT NOT NULL DEFAULT 'vi',
    unit_code           TEXT REFERENCES units(code),
    phone_kind          TEXT,
    state               TEXT NOT NULL DEFAULT '{"step":"idle"}',
    started             BIGINT NOT NULL DEFAULT 0,
    confirmed_at        BIGINT,
    verified_at         BIGINT,
    verified_by         BIGINT,
    opted_out           BIGINT NOT NULL DEFAULT 0,
    unreachable         BIGINT NOT NULL DEFAULT 0,
    unreachable_reason  TEXT,
    referred_by         BIGINT,
    referrals           BIGINT NOT NULL DEFAULT 0,
    ref_code            TEXT NOT NULL UNIQUE,
    linked_to           BIGINT,
    reminders_sent      BIGINT NOT NULL DEFAULT 0,
    created_at          BIGINT NOT NULL,
    last_activity_at    BIGINT NOT NULL,
    last_inbound_at     BIGINT NOT NULL,
    UNIQUE (platform, platform_user_id)
);
CREATE INDEX people_unit ON people(unit_code, confirmed_at);
CREATE INDEX people_activity ON people(confirmed_at, opted_out, unreachable, last_activity_at);

CREATE TABLE leaders (
    person_id   BIGINT NOT NULL REFERENCES people(id),
    unit_code   TEXT NOT NULL REFERENCES units(code),
    granted_by  TEXT NOT NULL,
    granted_at  BIGINT NOT NULL,
    PRIMARY KEY (person_id, unit_code)
);

CREATE TABLE invitations (
    token       TEXT PRIMARY KEY,
    unit_code   TEXT NOT NULL REFERENCES units(code),
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_by     BIGINT,
    used_at     BIGINT
);

-- Every outgoing message is written here before it is sent (the delivery engine's queue).
CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    platform        TEXT NOT NULL,
    chat_id         TEXT NOT NULL,
    is_group        BIGINT NOT NULL DEFAULT 0,
    person_id       BIGINT,
    broadcast_id    BIGINT,
    priority        BIGINT NOT NULL,
    payload         TEXT,
    status          TEXT NOT NULL DEFAULT 'queued',
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    message_id      TEXT,
    dedupe_key      TEXT UNIQUE,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX outbox_due ON outbox(status, priority, next_attempt_at, id);
CREATE INDEX outbox_broadcast ON outbox(broadcast_id, status);

-- Small key/value facts the service keeps between runs (e.g. Telegram's update offset).
CREATE TABLE kv (
    key     TEXT PRIMARY KEY,
    value   TEXT NOT NULL
);
