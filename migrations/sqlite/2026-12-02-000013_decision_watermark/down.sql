DROP VIEW decision_watermark;
