-- Children and guardians (DESIGN §2.6) and the digital access switches (DESIGN §2.3).
-- Same version and meaning on SQLite and PostgreSQL.

-- A citizen's digital access switches; no row means every access is open. A removed switch holds
-- the time it was removed; re-opening clears it.
CREATE TABLE access_switches (
    citizen_id TEXT PRIMARY KEY NOT NULL REFERENCES citizens (id),
    services_removed_at TIMESTAMP,
    patient_record_removed_at TIMESTAMP,
    summary_care_record_removed_at TIMESTAMP,
    services_changed_at TIMESTAMP,
    patient_record_changed_at TIMESTAMP,
    summary_care_record_changed_at TIMESTAMP
);

-- Restrictions registered by health personnel systems on guardians' access to a child: the
-- child's refusal (kind 'refusal', 12 to 16, for named areas or the whole) and a denial on
-- weighty reasons (kind 'denial', for one guardian or all). Lifted ones stay as history.
CREATE TABLE child_restrictions (
    id TEXT PRIMARY KEY NOT NULL,
    child_id TEXT NOT NULL REFERENCES citizens (id),
    kind TEXT NOT NULL,
    -- A refusal's space-separated area names; NULL for the whole (and for a denial).
    areas TEXT,
    -- A denial's guardian; NULL for every guardian (and for a refusal).
    guardian_id TEXT REFERENCES citizens (id),
    basis TEXT NOT NULL,
    author_hpr TEXT NOT NULL,
    author_org_number TEXT NOT NULL,
    author_org_name TEXT NOT NULL,
    -- The machine client that registered it.
    client_id TEXT NOT NULL,
    registered_at TIMESTAMP NOT NULL,
    lifted_at TIMESTAMP,
    lift_basis TEXT,
    lifted_by_hpr TEXT,
    lifted_by_org_number TEXT,
    lifted_by_org_name TEXT
);
CREATE INDEX child_restrictions_child ON child_restrictions (child_id);
