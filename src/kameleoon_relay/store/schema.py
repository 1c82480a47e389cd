"""SQLite schema of the queue, as versioned migrations applied in order at open.

`PRAGMA user_version` holds the version reached. Version 2 queues events, not
requests: a delivery is one event for one destination, planned when attempted, and
each request sent is an attempt row (body bytes, headers masked). No credential is
stored anywhere.

`delivery_counts` keeps stats O(destinations x actions) however many deliveries are
stored; its `state` is the reported one, where a pending delivery that was attempted
before counts as `retrying`. Up to version 2 triggers kept it, one row at a time; from
version 3 the store adds each statement's changes to it (see sqlite.py), once per batch.
"""

from __future__ import annotations

from kameleoon_relay.store.queries import FINAL_STATES_SQL, OPEN_STATES_SQL

_REPORTED_STATE = """CASE WHEN {row}.state = 'pending' AND {row}.attempts > 0 THEN 'retrying'
                 ELSE {row}.state END"""

_COUNT_TRIGGERS = f"""
CREATE TRIGGER deliveries_count_insert AFTER INSERT ON deliveries BEGIN
    INSERT INTO delivery_counts (destination, action, state, n)
    VALUES (NEW.destination, NEW.action, {_REPORTED_STATE.format(row="NEW")}, 1)
    ON CONFLICT (destination, action, state) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER deliveries_count_update AFTER UPDATE OF state, attempts, action
ON deliveries BEGIN
    UPDATE delivery_counts SET n = n - 1
    WHERE destination = OLD.destination AND action = OLD.action
      AND state = {_REPORTED_STATE.format(row="OLD")};
    INSERT INTO delivery_counts (destination, action, state, n)
    VALUES (NEW.destination, NEW.action, {_REPORTED_STATE.format(row="NEW")}, 1)
    ON CONFLICT (destination, action, state) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER deliveries_count_delete AFTER DELETE ON deliveries BEGIN
    UPDATE delivery_counts SET n = n - 1
    WHERE destination = OLD.destination AND action = OLD.action
      AND state = {_REPORTED_STATE.format(row="OLD")};
END;
"""

_V1 = """
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL,
    source TEXT NOT NULL,
    received_at REAL NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX events_message_id ON events (message_id, received_at);
CREATE INDEX events_received_at ON events (received_at);

CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    event_id INTEGER NOT NULL REFERENCES events (id),
    destination TEXT NOT NULL,
    subscription TEXT NOT NULL,
    action TEXT NOT NULL,
    state TEXT NOT NULL,
    request BLOB,
    created_at REAL NOT NULL,
    window_start REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    replays INTEGER NOT NULL DEFAULT 0,
    last_status INTEGER,
    last_error TEXT,
    last_attempt_at REAL,
    last_latency REAL,
    response_sample TEXT
);
CREATE TABLE delivery_counts (
    destination TEXT NOT NULL,
    action TEXT NOT NULL,
    state TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (destination, action, state)
) WITHOUT ROWID;
CREATE TABLE attempts (
    delivery_id INTEGER NOT NULL REFERENCES deliveries (id),
    attempted_at REAL NOT NULL,
    outcome TEXT NOT NULL,
    status INTEGER,
    error TEXT,
    latency REAL
);
CREATE TABLE rejected_events (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL,
    source TEXT NOT NULL,
    received_at REAL NOT NULL,
    body BLOB NOT NULL,
    problems TEXT NOT NULL
);
CREATE TABLE identity_links (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL,
    updated_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE filter_counts (
    destination TEXT NOT NULL,
    filter TEXT NOT NULL,
    reason TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (destination, filter, reason)
) WITHOUT ROWID;
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
"""

# Version 1 kept built requests (credentials included) per subscription; version 2 keeps
# one delivery per event and destination. Work still queued stays queued; the stored
# requests are dropped (migrations run with secure_delete, which overwrites their pages).
_V2 = f"""
DROP TRIGGER IF EXISTS deliveries_count_insert;
DROP TRIGGER IF EXISTS deliveries_count_update;
DROP TRIGGER IF EXISTS deliveries_count_delete;
ALTER TABLE events ADD COLUMN user_id TEXT;
ALTER TABLE events ADD COLUMN visitor_code TEXT;
UPDATE events SET user_id = CAST(json_extract(body, '$.userId') AS TEXT)
    WHERE json_valid(body) AND json_extract(body, '$.userId') IS NOT NULL;
CREATE INDEX events_user_id ON events (user_id) WHERE user_id IS NOT NULL;

ALTER TABLE deliveries RENAME TO deliveries_v1;
ALTER TABLE attempts RENAME TO attempts_v1;
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    event_id INTEGER NOT NULL REFERENCES events (id),
    destination TEXT NOT NULL,
    action TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    window_start REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    lease_until REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    replays INTEGER NOT NULL DEFAULT 0,
    done TEXT,
    last_status INTEGER,
    last_error TEXT,
    last_attempt_at REAL,
    last_latency REAL
);
INSERT INTO deliveries (event_id, destination, action, state, created_at, window_start,
    next_attempt_at, updated_at, attempts, replays, done, last_status, last_error,
    last_attempt_at, last_latency)
SELECT event_id, destination, group_concat(DISTINCT action),
    CASE WHEN sum(state IN ('pending', 'in_flight')) > 0 THEN 'pending'
         WHEN sum(state = 'dead') > 0 THEN 'dead'
         WHEN sum(state = 'failed') > 0 THEN 'failed'
         ELSE 'delivered' END,
    min(created_at), min(window_start), min(next_attempt_at), max(updated_at),
    max(attempts), max(replays),
    -- subscriptions already delivered are not sent again when the rest is retried
    CASE WHEN sum(state = 'delivered') > 0
         THEN json_group_array(subscription) FILTER (WHERE state = 'delivered') END,
    max(last_status), max(last_error), max(last_attempt_at), max(last_latency)
FROM deliveries_v1 GROUP BY event_id, destination;

CREATE TABLE attempts (
    id INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES deliveries (id),
    attempted_at REAL NOT NULL,
    subscription TEXT,
    action TEXT,
    outcome TEXT NOT NULL,
    status INTEGER,
    error TEXT,
    latency REAL,
    url TEXT,
    headers TEXT,
    body BLOB,
    response TEXT
);
INSERT INTO attempts (delivery_id, attempted_at, subscription, action, outcome, status, error,
    latency)
SELECT d.id, a.attempted_at, o.subscription, o.action, a.outcome, a.status, a.error, a.latency
FROM attempts_v1 a JOIN deliveries_v1 o ON o.id = a.delivery_id
JOIN deliveries d ON d.event_id = o.event_id AND d.destination = o.destination;
DROP TABLE attempts_v1;
DROP TABLE deliveries_v1;

CREATE INDEX deliveries_due ON deliveries (destination, next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX deliveries_lease ON deliveries (destination, lease_until)
    WHERE state = 'in_flight';
CREATE INDEX deliveries_state ON deliveries (state, updated_at);
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX attempts_delivery ON attempts (delivery_id, id);
CREATE INDEX rejected_received_at ON rejected_events (received_at);

DELETE FROM delivery_counts;
INSERT INTO delivery_counts (destination, action, state, n)
SELECT destination, action, {_REPORTED_STATE.format(row="deliveries")}, count(*)
FROM deliveries GROUP BY 1, 2, 3;
{_COUNT_TRIGGERS}
"""

# Version 3 makes a state change cheaper: the counts triggers go (the store keeps the
# counts per batch), and the (state, updated_at) index holds final deliveries only (what
# retention, throughput and latencies read; their queries name FINAL_STATES_SQL exactly so
# that SQLite uses it), so claiming no longer rewrites an entry there. Counts are rebuilt.
_V3 = f"""
DROP TRIGGER IF EXISTS deliveries_count_insert;
DROP TRIGGER IF EXISTS deliveries_count_update;
DROP TRIGGER IF EXISTS deliveries_count_delete;
DROP INDEX IF EXISTS deliveries_state;
CREATE INDEX deliveries_final ON deliveries (state, updated_at) WHERE {FINAL_STATES_SQL};
DELETE FROM delivery_counts;
INSERT INTO delivery_counts (destination, action, state, n)
SELECT destination, action, {_REPORTED_STATE.format(row="deliveries")}, count(*)
FROM deliveries GROUP BY 1, 2, 3;
"""

# Version 4 keeps each delivery's user key (userId, else anonymousId), set at ingest, for
# per-user order; queued and finished deliveries get theirs from their event, so that
# both drain and replay in order. The partial index holds open deliveries only: a claim's
# "is an earlier one of this user open?" is one probe, and finished work costs nothing.
_V4 = f"""
ALTER TABLE deliveries ADD COLUMN user_key TEXT;
UPDATE deliveries SET user_key = (
    SELECT coalesce(
        nullif(e.user_id, ''),
        CASE WHEN json_valid(e.body)
             THEN nullif(CAST(json_extract(e.body, '$.anonymousId') AS TEXT), '') END)
    FROM events e WHERE e.id = deliveries.event_id);
CREATE INDEX deliveries_user_open ON deliveries (destination, user_key, id)
    WHERE {OPEN_STATES_SQL} AND user_key IS NOT NULL;
"""

# Version 5 names the process holding each in-flight delivery (see owner.py), so that
# the work of a delivery process that died is given back at once, not at its lease's end.
_V5 = """
ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
"""

# Version 6: a destination's delivery.rate_limit, shared by every process on the database:
# the time its next send may go (GCRA's theoretical arrival time; store.reserve_rate).
_V6 = """
CREATE TABLE rate_limits (
    destination TEXT PRIMARY KEY,
    tat REAL NOT NULL
) WITHOUT ROWID;
"""

# MIGRATIONS[i] takes the schema from version i to version i + 1.
MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4, _V5, _V6)
SCHEMA_VERSION = len(MIGRATIONS)
