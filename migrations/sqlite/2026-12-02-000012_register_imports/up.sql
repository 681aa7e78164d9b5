-- One row per register import that changed anything. Servers that keep decision inputs in memory
-- read the newest id on every decision: a new row means the register changed under them.
CREATE TABLE register_imports (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    imported_at TIMESTAMP NOT NULL,
    added BIGINT NOT NULL,
    changed BIGINT NOT NULL,
    removed BIGINT NOT NULL
);

-- The two marks in one row, so that the check is one prepared statement and one round trip.
CREATE VIEW decision_watermark AS
SELECT
    COALESCE((SELECT MAX(id) FROM outbox), 0) AS outbox_position,
    COALESCE((SELECT MAX(id) FROM register_imports), 0) AS register_import;
