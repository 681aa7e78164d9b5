-- Opting out of the summary care record (DESIGN §2.4). Same version and meaning on SQLite and
-- PostgreSQL. No row means an active record that was never opted out of.
CREATE TABLE summary_care_records (
    citizen_id TEXT PRIMARY KEY NOT NULL REFERENCES citizens (id),
    -- 'active', 'opted_out' or 'purged' (domain::summary_care_record::RecordState).
    state TEXT NOT NULL,
    -- A new record made after a purge holds data from this moment on.
    record_started_at TIMESTAMP,
    opted_out_at TIMESTAMP,
    purge_ordered_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL
);
-- The purge scheduler's scan.
CREATE INDEX summary_care_records_opted_out ON summary_care_records (state, opted_out_at);

-- Every purge ordered: one per opt-out, enforced by the key, so that concurrent schedulers on
-- several instances (or a scheduler and a request) can never order it twice.
CREATE TABLE summary_care_record_purges (
    citizen_id TEXT NOT NULL REFERENCES citizens (id),
    opted_out_at TIMESTAMP NOT NULL,
    ordered_at TIMESTAMP NOT NULL,
    -- 'scheduler', 'operator' or 'new_record'.
    ordered_by TEXT NOT NULL,
    PRIMARY KEY (citizen_id, opted_out_at)
);
