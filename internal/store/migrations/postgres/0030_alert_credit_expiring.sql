-- Alerts of kind credit.expiring (issue 15): a credit lot expires within 7 days with
-- credit left; one per lot (dedupe_key credit_expiring:lot:<lot id>). The alerts table's
-- kind check admits the new kind; period_start holds the lot's expiry for it.
ALTER TABLE alerts DROP CONSTRAINT alerts_kind_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_kind_check CHECK (kind IN ('budget.threshold', 'balance.low', 'credit.expiring'));
