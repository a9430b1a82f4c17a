-- Reachability in coverage (issue 11): counting a unit's unconfirmed members by how they can
-- be reached now (free, billed, unreachable) reads only this index, never the table: the
-- members of a unit who have not confirmed, with every column the classification needs.
CREATE INDEX people_reach ON people(unit_code, confirmed_at, linked_to, platform, opted_out, unreachable, started, last_inbound_at);
