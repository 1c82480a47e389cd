"""PostgreSQL schema of the queue, as versioned migrations applied in order at open.

`schema_version` holds the version reached; `open()` applies the missing migrations
under an advisory lock, so relay processes starting together do not race.

The layout mirrors SQLite's version 2 (see schema.py), with what many processes
sharing it need:
- `message_ids`: one row per messageId with its latest acceptance. `INSERT ... ON
  CONFLICT` on its primary key is the cross-process dedupe: a second process inserting
  the same messageId waits for the first one's transaction, then sees its row.
- Counters are sharded by backend PID (`shard = pg_backend_pid()`): each connection
  only ever updates its own rows, so ingest, claim and record of different processes
  never wait on one hot counter row (nor deadlock on two). Statement triggers add each
  statement's net change once; `prune()` folds the shards of closed connections
  into shard 0. Stats sum the shards.
"""

from __future__ import annotations

# Where a delivery counts: a pending delivery attempted before is reported `retrying`.
_REPORTED = "CASE WHEN state = 'pending' AND attempts > 0 THEN 'retrying' ELSE state END"

_V1 = f"""
CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    message_id TEXT NOT NULL,
    source TEXT NOT NULL,
    user_id TEXT,
    received_at DOUBLE PRECISION NOT NULL,
    visitor_code TEXT,
    body BYTEA NOT NULL
);
CREATE INDEX events_message_id ON events (message_id, received_at);
CREATE INDEX events_received_at ON events (received_at);
CREATE INDEX events_user_id ON events (user_id) WHERE user_id IS NOT NULL;

CREATE TABLE message_ids (
    message_id TEXT PRIMARY KEY,
    received_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX message_ids_received_at ON message_ids (received_at);

CREATE TABLE deliveries (
    id BIGSERIAL PRIMARY KEY,
    event_id BIGINT NOT NULL REFERENCES events (id),
    destination TEXT NOT NULL,
    action TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    window_start DOUBLE PRECISION NOT NULL,
    next_attempt_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    lease_until DOUBLE PRECISION,
    attempts INTEGER NOT NULL DEFAULT 0,
    replays INTEGER NOT NULL DEFAULT 0,
    done TEXT,
    last_status INTEGER,
    last_error TEXT,
    last_attempt_at DOUBLE PRECISION,
    last_latency DOUBLE PRECISION
);
-- The claim query: due pending work of one destination, oldest first.
CREATE INDEX deliveries_due ON deliveries (destination, next_attempt_at)
    WHERE state = 'pending';
-- Expired leases, found without scanning the pending rows.
CREATE INDEX deliveries_lease ON deliveries (destination, lease_until)
    WHERE state = 'in_flight';
-- Retention: finished work by age.
CREATE INDEX deliveries_state ON deliveries (state, updated_at);
CREATE INDEX deliveries_event ON deliveries (event_id);

CREATE TABLE attempts (
    id BIGSERIAL PRIMARY KEY,
    delivery_id BIGINT NOT NULL REFERENCES deliveries (id),
    attempted_at DOUBLE PRECISION NOT NULL,
    subscription TEXT,
    action TEXT,
    outcome TEXT NOT NULL,
    status INTEGER,
    error TEXT,
    latency DOUBLE PRECISION,
    url TEXT,
    headers TEXT,
    body BYTEA,
    response TEXT
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, id);

CREATE TABLE rejected_events (
    id BIGSERIAL PRIMARY KEY,
    message_id TEXT NOT NULL,
    source TEXT NOT NULL,
    received_at DOUBLE PRECISION NOT NULL,
    body BYTEA NOT NULL,
    problems TEXT NOT NULL
);
CREATE INDEX rejected_received_at ON rejected_events (received_at);

CREATE TABLE identity_links (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE delivery_counts (
    shard INTEGER NOT NULL,
    destination TEXT NOT NULL,
    action TEXT NOT NULL,
    state TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (shard, destination, action, state)
);
CREATE TABLE filter_counts (
    shard INTEGER NOT NULL,
    destination TEXT NOT NULL,
    filter TEXT NOT NULL,
    reason TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (shard, destination, filter, reason)
);
CREATE TABLE counters (
    shard INTEGER NOT NULL,
    name TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (shard, name)
);

CREATE FUNCTION count_deliveries_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO delivery_counts (shard, destination, action, state, n)
    SELECT pg_backend_pid(), destination, action, {_REPORTED}, count(*)
    FROM new_rows GROUP BY 2, 3, 4 ORDER BY 2, 3, 4
    ON CONFLICT (shard, destination, action, state)
    DO UPDATE SET n = delivery_counts.n + excluded.n;
    RETURN NULL;
END $$;

CREATE FUNCTION count_deliveries_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO delivery_counts (shard, destination, action, state, n)
    SELECT pg_backend_pid(), destination, action, reported, sum(delta)
    FROM (
        SELECT destination, action, {_REPORTED} AS reported, -1 AS delta FROM old_rows
        UNION ALL
        SELECT destination, action, {_REPORTED}, 1 FROM new_rows
    ) AS changes
    GROUP BY 2, 3, 4 HAVING sum(delta) <> 0 ORDER BY 2, 3, 4
    ON CONFLICT (shard, destination, action, state)
    DO UPDATE SET n = delivery_counts.n + excluded.n;
    RETURN NULL;
END $$;

CREATE FUNCTION count_deliveries_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO delivery_counts (shard, destination, action, state, n)
    SELECT pg_backend_pid(), destination, action, {_REPORTED}, -count(*)
    FROM old_rows GROUP BY 2, 3, 4 ORDER BY 2, 3, 4
    ON CONFLICT (shard, destination, action, state)
    DO UPDATE SET n = delivery_counts.n + excluded.n;
    RETURN NULL;
END $$;

CREATE TRIGGER deliveries_count_insert AFTER INSERT ON deliveries
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION count_deliveries_inserted();
CREATE TRIGGER deliveries_count_update AFTER UPDATE ON deliveries
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION count_deliveries_updated();
CREATE TRIGGER deliveries_count_delete AFTER DELETE ON deliveries
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION count_deliveries_deleted();
"""

# Version 2: each delivery's user key (userId, else anonymousId), set at ingest, for
# per-user order; existing deliveries get theirs from their event (a body that cannot be
# read leaves it NULL: that delivery is not held). The partial index holds open
# deliveries only: a claim's "is an earlier one of this user open?" is one probe.
_V2 = """
ALTER TABLE deliveries ADD COLUMN user_key TEXT;
CREATE FUNCTION pg_temp.anonymous_id(body BYTEA) RETURNS TEXT LANGUAGE plpgsql AS $$
BEGIN
    RETURN nullif(convert_from(body, 'UTF8')::json ->> 'anonymousId', '');
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;
UPDATE deliveries d
SET user_key = coalesce(nullif(e.user_id, ''), pg_temp.anonymous_id(e.body))
FROM events e WHERE e.id = d.event_id;
CREATE INDEX deliveries_user_open ON deliveries (destination, user_key, id)
    WHERE state IN ('pending', 'in_flight') AND user_key IS NOT NULL;
"""

# Version 3 names the process holding each in-flight delivery (see owner.py): a relay
# gives back at once the work of its delivery processes that died, and at start the work
# of a relay that died on the same machine, instead of waiting out the lease.
_V3 = """
ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
"""

# Version 4: a destination's delivery.rate_limit, shared by every relay on the database:
# the time its next send may go (GCRA's theoretical arrival time; store.reserve_rate).
_V4 = """
CREATE TABLE rate_limits (
    destination TEXT PRIMARY KEY,
    tat DOUBLE PRECISION NOT NULL
);
"""

# MIGRATIONS[i] takes the schema from version i to version i + 1.
MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4)
SCHEMA_VERSION = len(MIGRATIONS)

# pg_advisory_lock key held while migrating ("kameleoon-relay" as a number).
MIGRATION_LOCK = 0x6B616D656C656F6E
