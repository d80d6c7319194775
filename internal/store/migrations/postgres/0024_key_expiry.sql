-- A key may expire: past expires_at (micro-seconds since the epoch, NULL for never) the
-- gateway and the event API refuse it with 401 key_expired.
ALTER TABLE api_keys ADD COLUMN expires_at BIGINT;
