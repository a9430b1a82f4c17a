-- Coverage (postgres): daily snapshots for trends, the audit trail of installs reported in person,
-- member groups linked to units, and who joined through a group button.

-- One row per unit and day: the unit's subtree totals as they stood at the last snapshot of
-- that day (the snapshot task rewrites today's row every hour). Trends and the ▲/▼ marks read
-- these; nothing is counted over people.
CREATE TABLE snapshots (
    unit_code   TEXT NOT NULL,
    day         TEXT NOT NULL,
    members     BIGINT NOT NULL,
    confirmed   BIGINT NOT NULL,
    verified    BIGINT NOT NULL,
    reported    BIGINT NOT NULL,
    PRIMARY KEY (unit_code, day)
);
CREATE INDEX snapshots_day ON snapshots(day);

-- Every /report a leader sends (corrections are negative amounts): who, when, how many, why,
-- and the unit's own reported total after it.
CREATE TABLE install_reports (
    id          BIGSERIAL PRIMARY KEY,
    unit_code   TEXT NOT NULL REFERENCES units(code),
    person_id   BIGINT NOT NULL,
    amount      BIGINT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    total_after BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX install_reports_unit ON install_reports(unit_code, id);

-- Member groups (Telegram groups or supergroups) linked to a unit with /linkgroup.
CREATE TABLE member_groups (
    platform    TEXT NOT NULL,
    chat_id     TEXT NOT NULL,
    unit_code   TEXT NOT NULL REFERENCES units(code),
    title       TEXT NOT NULL DEFAULT '',
    linked_by   BIGINT NOT NULL,
    linked_at   BIGINT NOT NULL,
    joined      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (platform, chat_id)
);

-- Who pressed "I have installed" in a group, so each person is counted once per group.
CREATE TABLE group_joins (
    platform    TEXT NOT NULL,
    chat_id     TEXT NOT NULL,
    person_id   BIGINT NOT NULL,
    joined_at   BIGINT NOT NULL,
    PRIMARY KEY (platform, chat_id, person_id)
);
