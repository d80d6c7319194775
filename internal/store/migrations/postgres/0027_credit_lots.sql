-- Credit lots (issue 15). Every transfer into a wallet creates a lot: kind (paid or
-- promotional), amount, remaining, and an optional expiry. Every debit of a wallet
-- (usage, refund, expiry) draws on its open lots in the same transaction, promotional
-- before paid, then earliest expiry first (never-expiring last), then oldest (id); each
-- draw is a row of lot_draws. What no lot covers is a draw with no lot (lot_id NULL): the
-- wallet's uncovered debt, which the next lot repays first (the row then names that lot).
-- So for every wallet: Σ remaining − Σ uncovered draws = balance.
CREATE TABLE credit_lots (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    kind         TEXT NOT NULL CHECK (kind IN ('paid', 'promotional')),
    source       TEXT NOT NULL,                          -- the creating transfer's kind, or 'migrated'
    transfer_id  BIGINT UNIQUE REFERENCES transfers(id), -- NULL: migrated
    amount       BIGINT NOT NULL CHECK (amount > 0),
    remaining    BIGINT NOT NULL CHECK (remaining >= 0),
    used         BIGINT NOT NULL DEFAULT 0 CHECK (used >= 0),
    expired      BIGINT NOT NULL DEFAULT 0 CHECK (expired >= 0),
    expires_at   BIGINT,                                 -- NULL: never
    created_at   BIGINT NOT NULL
);
-- A wallet's open lots in spend order (kind DESC puts promotional before paid).
CREATE INDEX credit_lots_open ON credit_lots (workspace_id, kind, expires_at, id) WHERE remaining > 0;
CREATE INDEX credit_lots_due ON credit_lots (expires_at) WHERE remaining > 0 AND expires_at IS NOT NULL;
CREATE INDEX credit_lots_workspace ON credit_lots (workspace_id, id);

-- Which lots a debit transfer drew on. created_at is the debit's time (kept when a later
-- lot repays an uncovered draw), so a period's usage by credit reads one index range.
CREATE TABLE lot_draws (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    transfer_id  BIGINT REFERENCES transfers(id),   -- NULL: a debt from before credit lots
    lot_id       BIGINT REFERENCES credit_lots(id), -- NULL: uncovered (the wallet's debt)
    amount       BIGINT NOT NULL CHECK (amount > 0),
    created_at   BIGINT NOT NULL
);
CREATE INDEX lot_draws_transfer ON lot_draws (transfer_id);
CREATE INDEX lot_draws_lot ON lot_draws (lot_id);
CREATE INDEX lot_draws_time ON lot_draws (workspace_id, created_at);
CREATE INDEX lot_draws_uncovered ON lot_draws (workspace_id, id) WHERE lot_id IS NULL;

-- Existing wallets: one paid lot holding a positive balance, or an uncovered debt holding
-- a negative one. Transfers up to here have no draws; verify checks those after.
INSERT INTO credit_lots (workspace_id, kind, source, transfer_id, amount, remaining, used, expired, expires_at, created_at)
SELECT workspace_id, 'paid', 'migrated', NULL, balance, balance, 0, 0, NULL, CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)
FROM accounts WHERE kind = 'wallet' AND balance > 0 ORDER BY id;
INSERT INTO lot_draws (workspace_id, transfer_id, lot_id, amount, created_at)
SELECT workspace_id, NULL, NULL, -balance, CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)
FROM accounts WHERE kind = 'wallet' AND balance < 0 ORDER BY id;
INSERT INTO settings (name, value) SELECT 'credit_lots_after_transfer', CAST(COALESCE(MAX(id), 0) AS TEXT) FROM transfers;
