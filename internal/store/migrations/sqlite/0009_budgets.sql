-- Budgets: an amount of spend per period (day, week, month in the workspace's time zone,
-- or all time) on a workspace, a project, a member or a key, with alert thresholds and an
-- optional hard limit the gateway enforces. Periods are derived from time; nothing here
-- is ever reset. Spend is read from the rollups. Times are Unix microseconds; money is
-- int64 micro-units.
CREATE TABLE budgets (
    id           TEXT PRIMARY KEY,  -- "bud_…"
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL CHECK (scope IN ('workspace', 'project', 'member', 'key')),
    scope_id     TEXT NOT NULL,     -- project name, member's user id, key id; '' for workspace
    amount       BIGINT NOT NULL CHECK (amount > 0),
    period       TEXT NOT NULL CHECK (period IN ('day', 'week', 'month', 'all_time')),
    thresholds   TEXT NOT NULL,     -- percents, sorted, comma-separated: "50,80,100"
    hard_limit   INTEGER NOT NULL CHECK (hard_limit IN (0, 1)),
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX budgets_by_workspace ON budgets (workspace_id, created_at);

-- A workspace's low-balance line and its state: armed until the available balance falls
-- below the line (a guarded update disarms it and counts the crossing, in the transaction
-- that stores the alert low_balance:<workspace>:<crossings>), re-armed when the balance is
-- back at or above the line.
CREATE TABLE low_balance_state (
    workspace_id TEXT PRIMARY KEY REFERENCES workspaces (id),
    line         BIGINT NOT NULL CHECK (line >= 0), -- 0: off
    armed        INTEGER NOT NULL CHECK (armed IN (0, 1)),
    crossings    BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
