-- Daily rollups (sqlite): the same counters as rollups_hourly and rollups_hourly_dim, summed
-- per workspace-local day. day is the Unix time in microseconds of the local midnight
-- that starts the day in the workspace's timezone (workspaces.timezone); a day row holds
-- exactly the hourly rows whose hour starts in [day, next local midnight) — the rule day
-- buckets follow, so a half-hour zone's day includes the hour that starts at 23:30.
-- Written in the same transaction as the hourly rows, and rebuilt from them when a
-- workspace's timezone changes. Day math needs the IANA zone database, so the rows of
-- an existing database are filled from rollups_hourly by Go in this migration's
-- transaction (store.backfillDaily), not by SQL here.
CREATE TABLE rollups_daily (
    workspace_id        TEXT NOT NULL,
    day                 BIGINT NOT NULL,
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
    PRIMARY KEY (workspace_id, day, project, key_id, member, model)
) WITHOUT ROWID;

CREATE TABLE rollups_daily_dim (
    workspace_id        TEXT NOT NULL,
    dim                 TEXT NOT NULL CHECK (dim IN ('model', 'key', 'project', 'member')),
    day                 BIGINT NOT NULL,
    value               TEXT NOT NULL,
    requests            BIGINT NOT NULL,
    input_tokens        BIGINT NOT NULL,
    cached_input_tokens BIGINT NOT NULL,
    cache_write_tokens  BIGINT NOT NULL,
    output_tokens       BIGINT NOT NULL,
    reasoning_tokens    BIGINT NOT NULL,
    cost                BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, dim, day, value)
) WITHOUT ROWID;
