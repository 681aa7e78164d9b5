DROP TABLE outbox;
DROP TABLE usage_log;
DROP TABLE sessions;
DROP TABLE login_requests;
DROP TABLE terms_history;
DROP TABLE citizens;
