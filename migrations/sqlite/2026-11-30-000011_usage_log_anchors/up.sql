-- Where a citizen's usage log begins after older entries were deleted under the retention rule:
-- the last deleted entry's position and hash, so the remaining chain still verifies from it.
CREATE TABLE usage_log_anchors (
    subject_id TEXT PRIMARY KEY NOT NULL REFERENCES citizens (id),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    cut_at TIMESTAMP NOT NULL
);
