-- Forgetting idempotency keys after their keeping time (domain::retention) deletes by age: an
-- index keeps that from reading the whole table on each housekeeping run.
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
