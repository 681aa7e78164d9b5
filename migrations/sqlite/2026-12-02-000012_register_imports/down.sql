DROP VIEW decision_watermark;
DROP TABLE register_imports;
