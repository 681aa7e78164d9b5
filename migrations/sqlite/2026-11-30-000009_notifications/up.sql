-- Contact details and email notifications (DESIGN §2.10). Same version and meaning on SQLite and
-- PostgreSQL.

-- A citizen's own contact details. An email address is used for anything but its confirmation
-- only once confirmed.
CREATE TABLE contact_details (
    citizen_id TEXT PRIMARY KEY NOT NULL REFERENCES citizens (id),
    email TEXT,
    email_confirmed_at TIMESTAMP,
    -- Stored for later channels; nothing is sent to it yet.
    phone TEXT,
    -- 'nb' or 'en'.
    language TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- One-time links that confirm an address. Only the SHA-256 of the token is stored.
CREATE TABLE email_confirmations (
    token_hash TEXT PRIMARY KEY NOT NULL,
    citizen_id TEXT NOT NULL REFERENCES citizens (id),
    email TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);

-- Every message planned, with its state. Planned in the transaction of the change (or by the
-- reminder scheduler), sent by the worker.
CREATE TABLE notifications (
    id TEXT PRIMARY KEY NOT NULL,
    citizen_id TEXT NOT NULL REFERENCES citizens (id),
    -- domain::notifications::Kind.
    kind TEXT NOT NULL,
    language TEXT NOT NULL,
    -- The address at planning time; NULL when there was none to send to (status 'no_address').
    recipient TEXT,
    -- What the message says beyond its kind (dates, the confirmation link), as JSON.
    facts TEXT NOT NULL,
    -- 'queued', 'sent', 'failed' (retried at next_attempt_at), 'given_up' or 'no_address'.
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP,
    last_error TEXT,
    sent_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    -- What it is about, unique: the same occasion never gives two messages, whichever server or
    -- scheduler run plans it.
    occasion TEXT NOT NULL UNIQUE
);
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
CREATE INDEX notifications_citizen ON notifications (citizen_id, created_at);
