-- The two marks in one row, so that the check is one prepared statement and one round trip.
CREATE VIEW decision_watermark AS
SELECT
    COALESCE((SELECT MAX(id) FROM outbox), 0) AS outbox_position,
    COALESCE((SELECT MAX(id) FROM register_imports), 0) AS register_import;
