-- Data-subject requests (DESIGN §2.9) and their handling by the responsible organisation. Same
-- version and meaning on SQLite and PostgreSQL.
CREATE TABLE data_requests (
    id TEXT PRIMARY KEY NOT NULL,
    -- Whom it concerns, and who filed it (the citizen, or a guardian for a child).
    subject_id TEXT NOT NULL REFERENCES citizens (id),
    filed_by TEXT NOT NULL,
    -- domain::data_requests::Kind.
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    -- Space-separated category names.
    categories TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL,
    acknowledged_at TIMESTAMP,
    extended_at TIMESTAMP,
    extension_reason TEXT,
    -- The deadline in force (first or extended), kept for the queue's order.
    deadline TIMESTAMP NOT NULL,
    -- Set when answered or refused.
    closed_at TIMESTAMP,
    -- 'answered' or 'refused'.
    outcome TEXT,
    -- The answer ({"text", "document"}) or the refusal ({"reason", "provision", "ground"}), as
    -- JSON.
    outcome_detail TEXT,
    -- The machine client of the latest step.
    handled_by TEXT
);
CREATE INDEX data_requests_subject ON data_requests (subject_id, received_at);
CREATE INDEX data_requests_open ON data_requests (closed_at, deadline);
