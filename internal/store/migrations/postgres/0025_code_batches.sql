-- Redemption-code batches, one row each with their codes counted by state, kept by the
-- store in the transactions that create, redeem and disable codes: the list of batches
-- (the console's Codes page, GET /api/v1/redemption-codes) reads a page of these by
-- creation time instead of grouping every code. A batch's codes share its amount, expiry,
-- note and creation time; its expired codes are its unused ones once expires_at has passed.
CREATE TABLE billing_code_batches (
    batch_id    TEXT PRIMARY KEY,
    amount      BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    codes       BIGINT NOT NULL,
    redeemed    BIGINT NOT NULL DEFAULT 0,
    disabled    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX billing_code_batches_created ON billing_code_batches (created_at, batch_id);

INSERT INTO billing_code_batches (batch_id, amount, expires_at, note, created_at, codes, redeemed, disabled)
SELECT batch_id, MIN(amount), MIN(expires_at), MIN(note), MIN(created_at), COUNT(*),
    SUM(CASE WHEN redeemed_by IS NOT NULL THEN 1 ELSE 0 END),
    SUM(CASE WHEN redeemed_at IS NOT NULL AND redeemed_by IS NULL THEN 1 ELSE 0 END)
FROM billing_codes GROUP BY batch_id;
