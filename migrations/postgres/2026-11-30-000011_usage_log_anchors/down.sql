DROP TABLE usage_log_anchors;
