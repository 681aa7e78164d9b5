-- Idempotency keys of machine clients' POSTs: the first request with a key claims it, and its
-- answer is stored so that a repeat with the same body gets the same answer.
-- Same version and meaning as the PostgreSQL migration of the same name.

CREATE TABLE idempotency_keys (
    client_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    -- NULL while the first request is still being processed.
    status_code INTEGER,
    response_body TEXT,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (client_id, idempotency_key)
);
