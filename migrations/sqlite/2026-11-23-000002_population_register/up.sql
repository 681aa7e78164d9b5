-- The population register extract (Folkeregisteret): persons and parental responsibility, as
-- imported from the JSON extract (docs/REGISTER.md). Replaced by every import.
-- Same version and meaning as ../../postgres/2026-11-23-000002_population_register/up.sql.
-- protection is the address protection code: '7' (fortrolig) or '6' (strengt fortrolig).

CREATE TABLE register_persons (
    national_id TEXT PRIMARY KEY NOT NULL,
    given_name TEXT NOT NULL,
    family_name TEXT NOT NULL,
    birth_date DATE NOT NULL,
    address_id TEXT,
    protection TEXT CHECK (protection IN ('6', '7')),
    deceased_on DATE,
    imported_at TIMESTAMP NOT NULL
);

-- One row per (child, person with parental responsibility). The parent need not be in
-- register_persons; a child's rows are replaced when the extract changes them.
CREATE TABLE register_parents (
    child_id TEXT NOT NULL,
    parent_id TEXT NOT NULL,
    PRIMARY KEY (child_id, parent_id)
);
CREATE INDEX register_parents_parent ON register_parents (parent_id);
