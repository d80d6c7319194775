-- Gateway (PostgreSQL): upstream providers and per-key limits.

-- secret is an encoded string: "gcm1:<base64 nonce+ciphertext>" when the deployment has
-- SPECTRA_SECRET_KEY, "plain:<secret>" otherwise. models is a JSON array of model names.
CREATE TABLE upstreams (
    name       TEXT PRIMARY KEY,
    base_url   TEXT NOT NULL,
    secret     TEXT NOT NULL,
    models     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- allowed_models is a JSON array ('' or '[]': every model); rpm and tpm 0 mean no limit.
ALTER TABLE api_keys ADD COLUMN allowed_models TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN rpm BIGINT NOT NULL DEFAULT 0 CHECK (rpm >= 0);
ALTER TABLE api_keys ADD COLUMN tpm BIGINT NOT NULL DEFAULT 0 CHECK (tpm >= 0);
