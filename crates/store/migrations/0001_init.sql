-- sitrep store schema, version 1. One file for SQLite and PostgreSQL: only types and
-- syntax both accept (BIGINT, TEXT, BYTEA; booleans as 0/1 BIGINT; JSON as TEXT).
-- Times are Unix milliseconds, ids UUIDv7 text. See docs/store.md.

CREATE TABLE incidents (
    id              TEXT PRIMARY KEY,
    number          BIGINT NOT NULL UNIQUE,
    title           TEXT NOT NULL,
    severity        TEXT NOT NULL,
    status          TEXT NOT NULL,
    service         TEXT,
    runbooks        TEXT NOT NULL,
    roles           TEXT NOT NULL,
    group_key       TEXT,
    created_ms      BIGINT NOT NULL,
    acknowledged_ms BIGINT,
    mitigated_ms    BIGINT,
    resolved_ms     BIGINT,
    updated_ms      BIGINT NOT NULL,
    version         BIGINT NOT NULL
);
CREATE INDEX incidents_by_created ON incidents (created_ms);
-- At most one unresolved incident per alert group.
CREATE UNIQUE INDEX incidents_open_group ON incidents (group_key)
    WHERE group_key IS NOT NULL AND status <> 'resolved';

-- The ledger: entry i is leaf i of the Merkle tree. The incident, type, time and actor
-- columns are copies of fields inside `record` (the canonical bytes that are hashed),
-- kept for indexing; verify_ledger checks they agree with the record.
CREATE TABLE ledger_entries (
    leaf_index  BIGINT PRIMARY KEY,
    incident_id TEXT,
    event_type  TEXT NOT NULL,
    time_ms     BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    record      BYTEA NOT NULL
);
CREATE INDEX ledger_entries_by_incident ON ledger_entries (incident_id, leaf_index);

-- Stored hashes in the layout of sitrep_ledger::stored_hash_index.
CREATE TABLE ledger_hashes (
    hash_index BIGINT PRIMARY KEY,
    hash       BYTEA NOT NULL
);

-- The tree size, one row. Every group commit moves it with
-- UPDATE ... SET size = new WHERE size = old, which also serialises writers.
CREATE TABLE ledger_head (
    id   BIGINT PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL
);
INSERT INTO ledger_head (id, size) VALUES (1, 0);

CREATE TABLE checkpoints (
    size        BIGINT PRIMARY KEY,
    root        TEXT NOT NULL,
    signed_note TEXT NOT NULL,
    created_ms  BIGINT NOT NULL
);

CREATE TABLE alerts (
    fingerprint TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    status      TEXT NOT NULL,
    labels      TEXT NOT NULL,
    annotations TEXT NOT NULL,
    starts_ms   BIGINT NOT NULL,
    ends_ms     BIGINT,
    incident_id TEXT REFERENCES incidents (id),
    updated_ms  BIGINT NOT NULL
);
CREATE INDEX alerts_by_incident ON alerts (incident_id);

CREATE TABLE raw_payloads (
    id          TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    received_ms BIGINT NOT NULL,
    body        BYTEA NOT NULL
);

CREATE TABLE step_runs (
    id            TEXT PRIMARY KEY,
    incident_id   TEXT NOT NULL REFERENCES incidents (id),
    runbook       TEXT NOT NULL,
    step_id       TEXT NOT NULL,
    command       TEXT NOT NULL,
    bound         TEXT NOT NULL,
    risk          TEXT NOT NULL,
    actor         TEXT NOT NULL,
    approver      TEXT,
    status        TEXT NOT NULL,
    started_ms    BIGINT NOT NULL,
    ended_ms      BIGINT,
    exit_code     BIGINT,
    verdict       TEXT,
    stdout_sha256 TEXT,
    stderr_sha256 TEXT
);
CREATE INDEX step_runs_by_incident ON step_runs (incident_id, started_ms);

-- `position` keeps insertion order (assigned on first insert, kept on update).
CREATE TABLE checklist_items (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    source      TEXT NOT NULL,
    item_id     TEXT NOT NULL,
    position    BIGINT NOT NULL,
    text        TEXT NOT NULL,
    required    BIGINT NOT NULL,
    checked     BIGINT NOT NULL,
    checked_by  TEXT,
    checked_ms  BIGINT,
    PRIMARY KEY (incident_id, source, item_id)
);

CREATE TABLE action_items (
    id          TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    title       TEXT NOT NULL,
    owner       TEXT,
    due_ms      BIGINT,
    status      TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL
);
CREATE INDEX action_items_by_incident ON action_items (incident_id, created_ms);

CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    dedupe_key      TEXT NOT NULL UNIQUE,
    incident_id     TEXT REFERENCES incidents (id),
    payload         TEXT NOT NULL,
    due_ms          BIGINT NOT NULL,
    attempts        BIGINT NOT NULL,
    state           TEXT NOT NULL,
    locked_by       TEXT,
    locked_until_ms BIGINT,
    last_error      TEXT,
    created_ms      BIGINT NOT NULL,
    updated_ms      BIGINT NOT NULL
);
CREATE INDEX jobs_claimable ON jobs (state, due_ms);
CREATE INDEX jobs_by_incident ON jobs (incident_id, created_ms);

-- A released lease keeps its row (holder '' and expires_ms 0) so the epoch never
-- goes backwards.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    epoch      BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL UNIQUE,
    created_ms    BIGINT NOT NULL,
    revoked_ms    BIGINT
);
