-- Webhook endpoints and the deliveries of alerts (and test messages) to them and by email.
-- A delivery is one message to one destination; the notifier claims due deliveries with
-- a lease (a guarded update) so two nodes never send the same attempt.
CREATE TABLE webhook_endpoints (
    id           TEXT PRIMARY KEY,            -- "whk_…"
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    url          TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    enabled      INTEGER NOT NULL DEFAULT 1,
    event_types  TEXT NOT NULL DEFAULT '',    -- comma-separated event types; '' = every type
    secret       TEXT NOT NULL,               -- "whsec_<base64>", the HMAC key of its signatures
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_by_workspace ON webhook_endpoints (workspace_id, created_at);

CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,         -- "dlv_…"
    alert_id        TEXT REFERENCES alerts (id), -- NULL for a test message
    message_id      TEXT NOT NULL,            -- the webhook-id: the alert's id, or the test message's
    event_type      TEXT NOT NULL,
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id),
    channel         TEXT NOT NULL CHECK (channel IN ('webhook', 'email')),
    endpoint_id     TEXT REFERENCES webhook_endpoints (id) ON DELETE CASCADE, -- webhook only
    address         TEXT NOT NULL DEFAULT '', -- email only
    subject         TEXT NOT NULL DEFAULT '', -- email only
    body            TEXT NOT NULL,            -- the webhook's JSON body, or the email's text
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,                   -- NULL once delivered or failed
    last_attempt_at BIGINT,
    last_status     INTEGER NOT NULL DEFAULT 0, -- HTTP status of the last attempt; 0 = none
    last_error      TEXT NOT NULL DEFAULT '',
    delivered_at    BIGINT,
    lease_until     BIGINT,                   -- a node is sending this attempt until then
    created_at      BIGINT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_by_workspace ON deliveries (workspace_id, created_at);
CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, created_at);
