-- Foundation: citizens, terms consent and its history, login requests, sessions, the usage log
-- (hash chain per citizen) and the change-feed outbox.
-- Same version and meaning as ../../postgres/2026-11-23-000001_foundation/up.sql.
-- Times are UTC; ids are UUIDs as text.

CREATE TABLE citizens (
    id TEXT PRIMARY KEY NOT NULL,
    national_id TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    last_login_at TIMESTAMP,
    previous_login_at TIMESTAMP,
    last_login_seq BIGINT,
    previous_login_seq BIGINT,
    terms_version TEXT,
    consent_level TEXT,
    consent_accepted_at TIMESTAMP
);

CREATE TABLE terms_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    citizen_id TEXT NOT NULL REFERENCES citizens (id),
    action TEXT NOT NULL,
    terms_version TEXT NOT NULL,
    level TEXT,
    at TIMESTAMP NOT NULL
);
CREATE INDEX terms_history_citizen ON terms_history (citizen_id, id);

CREATE TABLE login_requests (
    state_hash TEXT PRIMARY KEY NOT NULL,
    browser_hash TEXT NOT NULL,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    acr_values TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    citizen_id TEXT NOT NULL REFERENCES citizens (id),
    csrf_token TEXT NOT NULL,
    acr TEXT,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP
);
CREATE INDEX sessions_citizen ON sessions (citizen_id);

CREATE TABLE usage_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    subject_id TEXT NOT NULL REFERENCES citizens (id),
    seq BIGINT NOT NULL,
    at TIMESTAMP NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    action TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    UNIQUE (subject_id, seq)
);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    event_id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    payload TEXT NOT NULL
);
