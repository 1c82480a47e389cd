"""SQLite schema of the queue.

`delivery_counts` is kept by triggers so that stats stay O(destinations x actions) however
many deliveries are stored; its `state` is the reported one, where a pending delivery that
was attempted before counts as `retrying`.
"""

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL,
    source TEXT NOT NULL,
    received_at REAL NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS events_message_id ON events (message_id, received_at);
CREATE INDEX IF NOT EXISTS events_received_at ON events (received_at);

CREATE TABLE IF NOT EXISTS deliveries (
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
CREATE INDEX IF NOT EXISTS deliveries_due
    ON deliveries (destination, next_attempt_at) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries (state, id);
CREATE INDEX IF NOT EXISTS deliveries_event ON deliveries (event_id);

CREATE TABLE IF NOT EXISTS delivery_counts (
    destination TEXT NOT NULL,
    action TEXT NOT NULL,
    state TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (destination, action, state)
) WITHOUT ROWID;

-- Every attempt of a delivery, for GET /api/deliveries/{id}.
CREATE TABLE IF NOT EXISTS attempts (
    delivery_id INTEGER NOT NULL REFERENCES deliveries (id),
    attempted_at REAL NOT NULL,
    outcome TEXT NOT NULL,
    status INTEGER,
    error TEXT,
    latency REAL
);
CREATE INDEX IF NOT EXISTS attempts_delivery ON attempts (delivery_id, attempted_at);

-- Events of an accepted batch that broke the Segment Spec, kept with the reasons.
CREATE TABLE IF NOT EXISTS rejected_events (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL,
    source TEXT NOT NULL,
    received_at REAL NOT NULL,
    body BLOB NOT NULL,
    problems TEXT NOT NULL
);

-- Visitor-code links ("Kameleoon identifier"): id is "userId:<v>" or "anonymousId:<v>".
CREATE TABLE IF NOT EXISTS identity_links (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL,
    updated_at REAL NOT NULL
) WITHOUT ROWID;

-- Events a destination's filters (or its call types) kept from it, by filter and reason.
CREATE TABLE IF NOT EXISTS filter_counts (
    destination TEXT NOT NULL,
    filter TEXT NOT NULL,
    reason TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (destination, filter, reason)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TRIGGER IF NOT EXISTS deliveries_count_insert AFTER INSERT ON deliveries BEGIN
    INSERT INTO delivery_counts (destination, action, state, n)
    VALUES (NEW.destination, NEW.action,
            CASE WHEN NEW.state = 'pending' AND NEW.attempts > 0 THEN 'retrying'
                 ELSE NEW.state END, 1)
    ON CONFLICT (destination, action, state) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER IF NOT EXISTS deliveries_count_update AFTER UPDATE OF state, attempts
ON deliveries BEGIN
    UPDATE delivery_counts SET n = n - 1
    WHERE destination = OLD.destination AND action = OLD.action
      AND state = CASE WHEN OLD.state = 'pending' AND OLD.attempts > 0 THEN 'retrying'
                       ELSE OLD.state END;
    INSERT INTO delivery_counts (destination, action, state, n)
    VALUES (NEW.destination, NEW.action,
            CASE WHEN NEW.state = 'pending' AND NEW.attempts > 0 THEN 'retrying'
                 ELSE NEW.state END, 1)
    ON CONFLICT (destination, action, state) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER IF NOT EXISTS deliveries_count_delete AFTER DELETE ON deliveries BEGIN
    UPDATE delivery_counts SET n = n - 1
    WHERE destination = OLD.destination AND action = OLD.action
      AND state = CASE WHEN OLD.state = 'pending' AND OLD.attempts > 0 THEN 'retrying'
                       ELSE OLD.state END;
END;
"""
