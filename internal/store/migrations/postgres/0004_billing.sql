-- Billing (PostgreSQL): buyers' billing details, documents (receipts, usage statements, credit
-- notes) numbered without gaps and immutable once issued, redemption codes, auto-recharge
-- and notices for owners. Times are Unix microseconds; money is int64 micro-units.
CREATE TABLE billing_details (
    workspace_id TEXT PRIMARY KEY REFERENCES workspaces(id),
    name         TEXT NOT NULL DEFAULT '',
    email        TEXT NOT NULL DEFAULT '',
    line1        TEXT NOT NULL DEFAULT '',
    line2        TEXT NOT NULL DEFAULT '',
    city         TEXT NOT NULL DEFAULT '',
    postal_code  TEXT NOT NULL DEFAULT '',
    region       TEXT NOT NULL DEFAULT '',
    country      TEXT NOT NULL DEFAULT '',
    tax_id       TEXT NOT NULL DEFAULT '',
    updated_at   BIGINT NOT NULL
);

-- One row per numbering series ("SPEC-2026"): incremented in the transaction that inserts
-- the document, so a number is never skipped nor used twice.
CREATE TABLE billing_counters (
    series   TEXT PRIMARY KEY,
    last_seq BIGINT NOT NULL
);

CREATE TABLE billing_invoices (
    id                TEXT PRIMARY KEY,
    number            TEXT NOT NULL UNIQUE,
    series            TEXT NOT NULL,
    seq               BIGINT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('receipt', 'statement', 'credit_note')),
    workspace_id      TEXT NOT NULL REFERENCES workspaces(id),
    source_key        TEXT NOT NULL UNIQUE,
    currency          TEXT NOT NULL,
    subtotal          BIGINT NOT NULL,
    tax               BIGINT NOT NULL,
    total             BIGINT NOT NULL CHECK (total >= 0),
    tax_rate_bp       BIGINT NOT NULL,
    tax_name          TEXT NOT NULL,
    seller            TEXT NOT NULL, -- JSON snapshot of the seller's details
    buyer             TEXT NOT NULL, -- JSON snapshot of the buyer's details
    timezone          TEXT NOT NULL,
    period            TEXT NOT NULL DEFAULT '',
    period_start      BIGINT,
    period_end        BIGINT,
    transfer_id       BIGINT REFERENCES transfers(id),
    payment_method    TEXT NOT NULL DEFAULT '',
    payment_reference TEXT NOT NULL DEFAULT '',
    original_id       TEXT REFERENCES billing_invoices(id),
    original_number   TEXT NOT NULL DEFAULT '',
    note              TEXT NOT NULL DEFAULT '',
    issued_at         BIGINT NOT NULL,
    UNIQUE (series, seq),
    CHECK (subtotal + tax = total)
);
CREATE INDEX billing_invoices_workspace ON billing_invoices (workspace_id, issued_at, number);
CREATE INDEX billing_invoices_original ON billing_invoices (original_id);

CREATE TABLE billing_invoice_lines (
    invoice_id          TEXT NOT NULL REFERENCES billing_invoices(id),
    position            INTEGER NOT NULL,
    kind                TEXT NOT NULL,
    description         TEXT NOT NULL,
    requests            BIGINT NOT NULL DEFAULT 0,
    input_tokens        BIGINT NOT NULL DEFAULT 0,
    cached_input_tokens BIGINT NOT NULL DEFAULT 0,
    cache_write_tokens  BIGINT NOT NULL DEFAULT 0,
    output_tokens       BIGINT NOT NULL DEFAULT 0,
    reasoning_tokens    BIGINT NOT NULL DEFAULT 0,
    amount              BIGINT NOT NULL,
    PRIMARY KEY (invoice_id, position)
);

CREATE TRIGGER billing_invoices_immutable BEFORE UPDATE OR DELETE ON billing_invoices FOR EACH ROW EXECUTE FUNCTION spectra_immutable();
CREATE TRIGGER billing_invoice_lines_immutable BEFORE UPDATE OR DELETE ON billing_invoice_lines FOR EACH ROW EXECUTE FUNCTION spectra_immutable();

-- Redemption codes: only the SHA-256 of a code is stored.
CREATE TABLE billing_codes (
    id           TEXT PRIMARY KEY,
    batch_id     TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    hint         TEXT NOT NULL,
    amount       BIGINT NOT NULL CHECK (amount > 0),
    expires_at   BIGINT NOT NULL,
    note         TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    redeemed_at  BIGINT,
    redeemed_by  TEXT REFERENCES workspaces(id)
);
CREATE INDEX billing_codes_batch ON billing_codes (batch_id);

-- Failed redemptions, per scope ("ws:<id>", "ip:<address>"), for rate limiting.
CREATE TABLE billing_redeem_failures (
    scope TEXT NOT NULL,
    at    BIGINT NOT NULL
);
CREATE INDEX billing_redeem_failures_scope ON billing_redeem_failures (scope, at);

CREATE TABLE billing_auto_recharge (
    workspace_id          TEXT PRIMARY KEY REFERENCES workspaces(id),
    enabled               INTEGER NOT NULL DEFAULT 0,
    threshold             BIGINT NOT NULL DEFAULT 0,
    amount                BIGINT NOT NULL DEFAULT 0,
    monthly_cap           BIGINT NOT NULL DEFAULT 0,
    armed                 INTEGER NOT NULL DEFAULT 1,
    crossing              BIGINT NOT NULL DEFAULT 0, -- how many times it fired: names each crossing
    paused_until          BIGINT NOT NULL DEFAULT 0, -- the monthly cap was reached: no charge before this time
    stripe_customer       TEXT NOT NULL DEFAULT '',
    stripe_payment_method TEXT NOT NULL DEFAULT '',
    disabled_reason       TEXT NOT NULL DEFAULT '',
    updated_at            BIGINT NOT NULL
);

CREATE TABLE billing_auto_charges (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces(id),
    crossing       BIGINT NOT NULL,
    amount         BIGINT NOT NULL CHECK (amount > 0),
    status         TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    payment_intent TEXT NOT NULL DEFAULT '',
    failure        TEXT NOT NULL DEFAULT '',
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    UNIQUE (workspace_id, crossing)
);
CREATE INDEX billing_auto_charges_month ON billing_auto_charges (workspace_id, created_at);

CREATE TABLE billing_notices (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    kind         TEXT NOT NULL,
    message      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    dismissed_at BIGINT
);
CREATE INDEX billing_notices_workspace ON billing_notices (workspace_id, created_at);
