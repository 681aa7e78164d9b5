-- One row per register import that changed anything. Servers that keep decision inputs in memory
-- read the newest id on every decision: a new row means the register changed under them.
CREATE TABLE register_imports (
    id BIGSERIAL PRIMARY KEY,
    imported_at TIMESTAMP NOT NULL,
    added BIGINT NOT NULL,
    changed BIGINT NOT NULL,
    removed BIGINT NOT NULL
);
