-- Alerts: a budget threshold crossed, or a workspace's available balance fallen below its
-- low-balance line. One row per crossing, made exactly once by its unique dedupe_key
-- (budget:<budget id>:<period start µs>:<threshold %>, or low_balance:<workspace id>:<n>),
-- whichever node sees the crossing first. The row is also the notifier's outbox: the
-- notifier sets dispatched_at (a guarded update, once) in the same transaction that queues
-- the alert's email and webhook deliveries.
CREATE TABLE alerts (
    id            TEXT PRIMARY KEY,  -- "alt_…"; also the webhook-id of its webhook messages
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    kind          TEXT NOT NULL CHECK (kind IN ('budget.threshold', 'balance.low')),
    budget_id     TEXT,              -- NULL for balance.low
    threshold     INTEGER NOT NULL,  -- percent of the budget; 0 for balance.low
    period_start  BIGINT NOT NULL,   -- the budget period's start; the crossing's time for balance.low
    dedupe_key    TEXT NOT NULL UNIQUE,
    subject       TEXT NOT NULL,     -- one line for people: email subject, dashboard list
    body          TEXT NOT NULL,     -- plain-text email body
    payload       TEXT NOT NULL,     -- JSON object: the "data" of the webhook message
    created_at    BIGINT NOT NULL,
    dispatched_at BIGINT             -- set once, when its deliveries are queued
);
CREATE INDEX alerts_by_workspace ON alerts (workspace_id, created_at);
CREATE INDEX alerts_undispatched ON alerts (created_at) WHERE dispatched_at IS NULL;
