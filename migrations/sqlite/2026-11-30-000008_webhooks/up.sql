-- Webhooks (Standard Webhooks): machine clients' endpoints, the deliveries of change-feed events
-- to them, and each attempt. Same version and meaning on SQLite and PostgreSQL.

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY NOT NULL,
    -- The machine client that registered it; only it sees and manages it.
    client_id TEXT NOT NULL,
    url TEXT NOT NULL,
    -- Space-separated event types or prefixes ending in '.*'; '' means every event.
    event_types TEXT NOT NULL,
    -- 'whsec_' and the base64 of 32 random bytes: the HMAC-SHA256 key of the signatures.
    secret TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    -- The outbox position up to which events have been handed to this endpoint. Starts at the
    -- head when registered: an endpoint receives what happens after it was registered.
    fanned_out_to BIGINT NOT NULL,
    disabled_at TIMESTAMP,
    -- 'gone' (the endpoint answered 410) or 'removed' (its client removed it).
    disabled_reason TEXT
);
CREATE INDEX webhook_endpoints_client ON webhook_endpoints (client_id);

-- One message per (endpoint, event); its id is the `webhook-id` header, the same on every retry.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id),
    event_id TEXT NOT NULL,
    event_position BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    -- When the event happened (the body's `timestamp`).
    event_occurred_at TIMESTAMP NOT NULL,
    -- 'pending', 'delivered', 'given_up' or 'endpoint_disabled'.
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    -- While pending: when the next attempt is due (a worker that takes it moves this forward
    -- first, so that another instance does not take it too).
    next_attempt_at TIMESTAMP,
    delivered_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

-- Every attempt: the HTTP status, or the error when there was none.
CREATE TABLE webhook_attempts (
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id),
    attempt INTEGER NOT NULL,
    at TIMESTAMP NOT NULL,
    status_code INTEGER,
    error TEXT,
    PRIMARY KEY (delivery_id, attempt)
);

-- The citizen's view of who received their changes reads the outbox by subject.
CREATE INDEX outbox_subject ON outbox (subject_id, id);
