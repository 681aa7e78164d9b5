CREATE OR REPLACE VIEW decision_watermark AS
SELECT
    COALESCE((SELECT MAX(id) FROM outbox), 0) AS outbox_position,
    COALESCE((SELECT MAX(id) FROM register_imports), 0) AS register_import;
DROP TRIGGER register_import_moves_the_decision_mark ON register_imports;
DROP TRIGGER outbox_moves_the_decision_mark ON outbox;
DROP FUNCTION decision_marks_register_imported();
DROP FUNCTION decision_marks_outbox_moved();
DROP TABLE decision_marks;
