-- Redemption codes carry the credit they give (issue 15): its kind (paid or promotional)
-- and its expiry (NULL: never, or the paid-credit default), apart from the code's own
-- expires_at, the last moment it can be redeemed. A batch's codes share both.
ALTER TABLE billing_codes ADD COLUMN credit_kind TEXT NOT NULL DEFAULT 'paid' CHECK (credit_kind IN ('paid', 'promotional'));
ALTER TABLE billing_codes ADD COLUMN credit_expires_at BIGINT;
ALTER TABLE billing_code_batches ADD COLUMN credit_kind TEXT NOT NULL DEFAULT 'paid' CHECK (credit_kind IN ('paid', 'promotional'));
ALTER TABLE billing_code_batches ADD COLUMN credit_expires_at BIGINT;
