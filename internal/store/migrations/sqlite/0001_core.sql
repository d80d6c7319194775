-- Spectra core schema (SQLite). Times are Unix microseconds; money is int64 micro-units.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE workspaces (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    timezone   TEXT NOT NULL DEFAULT 'UTC',
    created_at BIGINT NOT NULL
);

-- Members and roles arrive with the dashboard; keys already carry member_id and project.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('inference', 'admin')),
    prefix       TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    project      TEXT NOT NULL DEFAULT '',
    member_id    TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_keys_workspace ON api_keys (workspace_id, created_at);

-- Wallets carry a cached balance and held amount, written in the same transaction as
-- their entries (spectra verify recomputes them). System accounts have no cached balance.
CREATE TABLE accounts (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT REFERENCES workspaces(id),
    kind            TEXT NOT NULL CHECK (kind IN ('wallet', 'system')),
    balance         BIGINT NOT NULL DEFAULT 0,
    held            BIGINT NOT NULL DEFAULT 0 CHECK (held >= 0),
    overdraft_limit BIGINT NOT NULL DEFAULT 0 CHECK (overdraft_limit >= 0),
    created_at      BIGINT NOT NULL
);

CREATE TABLE transfers (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    from_account    TEXT NOT NULL REFERENCES accounts(id),
    to_account      TEXT NOT NULL REFERENCES accounts(id),
    amount          BIGINT NOT NULL CHECK (amount > 0),
    workspace_id    TEXT,
    note            TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL
);

CREATE TABLE entries (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    transfer_id   BIGINT NOT NULL REFERENCES transfers(id),
    account_id    TEXT NOT NULL REFERENCES accounts(id),
    amount        BIGINT NOT NULL,
    balance_after BIGINT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX entries_account ON entries (account_id, id);

CREATE TRIGGER transfers_immutable_u BEFORE UPDATE ON transfers BEGIN SELECT RAISE(ABORT, 'transfers are immutable'); END;
CREATE TRIGGER transfers_immutable_d BEFORE DELETE ON transfers BEGIN SELECT RAISE(ABORT, 'transfers are immutable'); END;
CREATE TRIGGER entries_immutable_u BEFORE UPDATE ON entries BEGIN SELECT RAISE(ABORT, 'entries are immutable'); END;
CREATE TRIGGER entries_immutable_d BEFORE DELETE ON entries BEGIN SELECT RAISE(ABORT, 'entries are immutable'); END;

CREATE TABLE holds (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts(id),
    amount       BIGINT NOT NULL CHECK (amount >= 0),
    status       TEXT NOT NULL CHECK (status IN ('held', 'settled', 'released', 'expired')),
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    closed_at    BIGINT
);
CREATE INDEX holds_active ON holds (expires_at) WHERE status = 'held';

CREATE TABLE prices (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    model          TEXT NOT NULL,
    input          BIGINT NOT NULL,
    cached_input   BIGINT NOT NULL,
    cache_write    BIGINT NOT NULL,
    output         BIGINT NOT NULL,
    request        BIGINT NOT NULL,
    effective_from BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    UNIQUE (model, effective_from)
);

CREATE TABLE events (
    workspace_id        TEXT NOT NULL,
    id                  TEXT NOT NULL,
    ts                  BIGINT NOT NULL,
    key_id              TEXT NOT NULL DEFAULT '',
    project             TEXT NOT NULL DEFAULT '',
    member              TEXT NOT NULL DEFAULT '',
    model               TEXT NOT NULL,
    input_tokens        BIGINT NOT NULL,
    cached_input_tokens BIGINT NOT NULL,
    cache_write_tokens  BIGINT NOT NULL,
    output_tokens       BIGINT NOT NULL,
    reasoning_tokens    BIGINT NOT NULL,
    cost                BIGINT NOT NULL,
    usage_key           TEXT NOT NULL DEFAULT '',
    source              TEXT NOT NULL DEFAULT 'api',
    endpoint            TEXT NOT NULL DEFAULT '',
    status              INTEGER NOT NULL DEFAULT 0,
    latency_ms          BIGINT NOT NULL DEFAULT 0,
    stream              INTEGER NOT NULL DEFAULT 0,
    estimated           INTEGER NOT NULL DEFAULT 0,
    metadata            TEXT,
    hash                TEXT NOT NULL,
    ingested_at         BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX events_log ON events (workspace_id, ts, id);

CREATE TABLE rollups_hourly (
    workspace_id        TEXT NOT NULL,
    hour                BIGINT NOT NULL,
    project             TEXT NOT NULL,
    key_id              TEXT NOT NULL,
    member              TEXT NOT NULL,
    model               TEXT NOT NULL,
    requests            BIGINT NOT NULL,
    input_tokens        BIGINT NOT NULL,
    cached_input_tokens BIGINT NOT NULL,
    cache_write_tokens  BIGINT NOT NULL,
    output_tokens       BIGINT NOT NULL,
    reasoning_tokens    BIGINT NOT NULL,
    cost                BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, hour, project, key_id, member, model)
);
