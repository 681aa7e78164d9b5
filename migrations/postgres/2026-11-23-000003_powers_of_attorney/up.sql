-- Powers of attorney (fullmakt). Ended ones stay: they are the history both parties read.
-- Expiry and the grantor's death are computed from (data, now), never written by a job.
-- Same version and meaning as the PostgreSQL migration of the same name.

CREATE TABLE powers_of_attorney (
    id TEXT PRIMARY KEY NOT NULL,
    grantor_id TEXT NOT NULL REFERENCES citizens (id),
    grantee_id TEXT NOT NULL REFERENCES citizens (id),
    all_areas BOOLEAN NOT NULL,
    -- Space-separated service area names; empty when all_areas.
    areas TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    valid_until TIMESTAMP,
    accepted_at TIMESTAMP,
    ended_reason TEXT,
    ended_at TIMESTAMP,
    -- The citizen who ended it (declined or revoked).
    ended_by TEXT
);
CREATE INDEX powers_of_attorney_grantor ON powers_of_attorney (grantor_id);
CREATE INDEX powers_of_attorney_grantee ON powers_of_attorney (grantee_id);
