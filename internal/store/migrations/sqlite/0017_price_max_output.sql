-- A model's maximum output per completion (tokens), optional: the gateway holds that many
-- output tokens for a request that sets no limit of its own. NULL: not set (the gateway
-- falls back to SPECTRA_GATEWAY_MAX_TOKENS).
ALTER TABLE prices ADD COLUMN max_output_tokens BIGINT;
