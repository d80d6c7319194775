-- Alerts of kind credit.expiring (issue 15): a credit lot expires within 7 days with
-- credit left; one per lot (dedupe_key credit_expiring:lot:<lot id>). The alerts table's
-- kind check admits the new kind.
--
-- SQLite cannot alter a CHECK constraint, so alerts is made again. deliveries refers to
-- it, and with foreign keys on (they cannot be turned off inside the migration's
-- transaction) the parent cannot be dropped under its children: deliveries is made again
-- too, pointing at the new alerts table, and both are renamed into place (a rename
-- carries the foreign keys that name the table along).
CREATE TABLE alerts_new (
    id            TEXT PRIMARY KEY,  -- "alt_…"; also the webhook-id of its webhook messages
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    kind          TEXT NOT NULL CHECK (kind IN ('budget.threshold', 'balance.low', 'credit.expiring')),
    budget_id     TEXT,              -- NULL for balance.low and credit.expiring
    threshold     INTEGER NOT NULL,  -- percent of the budget; 0 for the others
    period_start  BIGINT NOT NULL,   -- the budget period's start; the crossing's time for balance.low; the lot's expiry for credit.expiring
    dedupe_key    TEXT NOT NULL UNIQUE,
    subject       TEXT NOT NULL,     -- one line for people: email subject, dashboard list
    body          TEXT NOT NULL,     -- plain-text email body
    payload       TEXT NOT NULL,     -- JSON object: the "data" of the webhook message
    created_at    BIGINT NOT NULL,
    dispatched_at BIGINT             -- set once, when its deliveries are queued
);
INSERT INTO alerts_new (id, workspace_id, kind, budget_id, threshold, period_start, dedupe_key, subject, body, payload, created_at, dispatched_at)
    SELECT id, workspace_id, kind, budget_id, threshold, period_start, dedupe_key, subject, body, payload, created_at, dispatched_at FROM alerts;

CREATE TABLE deliveries_new (
    id              TEXT PRIMARY KEY,         -- "dlv_…"
    alert_id        TEXT REFERENCES alerts_new (id), -- NULL for a test message
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
INSERT INTO deliveries_new (id, alert_id, message_id, event_type, workspace_id, channel, endpoint_id, address, subject, body,
        status, attempts, next_attempt_at, last_attempt_at, last_status, last_error, delivered_at, lease_until, created_at)
    SELECT id, alert_id, message_id, event_type, workspace_id, channel, endpoint_id, address, subject, body,
        status, attempts, next_attempt_at, last_attempt_at, last_status, last_error, delivered_at, lease_until, created_at FROM deliveries;

DROP TABLE deliveries;
DROP TABLE alerts;
ALTER TABLE alerts_new RENAME TO alerts;
ALTER TABLE deliveries_new RENAME TO deliveries;

CREATE INDEX alerts_by_workspace ON alerts (workspace_id, created_at);
CREATE INDEX alerts_undispatched ON alerts (created_at) WHERE dispatched_at IS NULL;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_by_workspace ON deliveries (workspace_id, created_at);
CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, created_at);
