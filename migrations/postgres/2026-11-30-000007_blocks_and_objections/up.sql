-- Blocks of the summary care record and objections to sharing (DESIGN §2.4, §2.7), and the
-- openings of them that downstream decisions granted. Same version and meaning on SQLite and
-- PostgreSQL.

-- A citizen's blocks and objections. Lifted ones stay as history (the law requires keeping the
-- choices, issue 8); the rules read the rows with no lifted_at.
CREATE TABLE sharing_restrictions (
    id TEXT PRIMARY KEY NOT NULL,
    citizen_id TEXT NOT NULL REFERENCES citizens (id),
    -- The citizen's choices in the order they were made (1, 2, ...): lists are newest first even
    -- within one second. Assigned under the citizen's lock.
    seq BIGINT NOT NULL,
    -- 'block' (of the summary care record) or 'objection' (to sharing).
    kind TEXT NOT NULL,
    -- A block: 'whole_record', 'part' or 'professional'; an objection: 'professional' or
    -- 'organisation'.
    target_kind TEXT NOT NULL,
    -- The part's name, the HPR number or the organisation number; '' for the whole record.
    target TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    -- The portal id of who set it: the citizen, or a guardian for a child.
    created_by TEXT NOT NULL,
    lifted_at TIMESTAMP,
    lifted_by TEXT
);
CREATE UNIQUE INDEX sharing_restrictions_citizen ON sharing_restrictions (citizen_id, seq);
-- One of each target in force at a time (the handler checks first, under the citizen's lock).
CREATE UNIQUE INDEX sharing_restrictions_in_force
    ON sharing_restrictions (citizen_id, kind, target_kind, target) WHERE lifted_at IS NULL;

-- Each time a permitted read passed a block or an objection: shown to the citizen and notified.
CREATE TABLE sharing_openings (
    id TEXT PRIMARY KEY NOT NULL,
    citizen_id TEXT NOT NULL REFERENCES citizens (id),
    at TIMESTAMP NOT NULL,
    -- 'block_opened_on_consent', 'block_opened_in_emergency' or 'objection_overridden'.
    kind TEXT NOT NULL,
    -- 'summary_care_record' or 'patient_record'.
    resource TEXT NOT NULL,
    -- The parts asked for, space-separated; '' for the patient record.
    parts TEXT NOT NULL,
    hpr_number TEXT NOT NULL,
    organisation_number TEXT NOT NULL,
    -- 'consent' or 'emergency'.
    basis TEXT NOT NULL,
    stated_basis TEXT,
    -- The machine client that asked.
    client_id TEXT NOT NULL,
    -- The opening's entry in the citizen's usage log.
    log_seq BIGINT NOT NULL
);
CREATE INDEX sharing_openings_citizen ON sharing_openings (citizen_id, at);
