DROP TABLE summary_care_record_purges;
DROP TABLE summary_care_records;
