-- Hourly rollups by one dimension at a time (SQLite). rollups_hourly keeps one row per hour
-- and workspace × project × key × member × model, which is what multi-dimension breakdowns
-- need; the usage pages mostly ask for one dimension (cost by model, by key, by member) or
-- none, and a row per hour and value answers those reading a few thousand rows for a month
-- instead of tens of thousands. Written in the same transaction as rollups_hourly.
CREATE TABLE rollups_hourly_dim (
    workspace_id        TEXT NOT NULL,
    dim                 TEXT NOT NULL CHECK (dim IN ('model', 'key', 'project', 'member')),
    hour                BIGINT NOT NULL,
    value               TEXT NOT NULL,
    requests            BIGINT NOT NULL,
    input_tokens        BIGINT NOT NULL,
    cached_input_tokens BIGINT NOT NULL,
    cache_write_tokens  BIGINT NOT NULL,
    output_tokens       BIGINT NOT NULL,
    reasoning_tokens    BIGINT NOT NULL,
    cost                BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, dim, hour, value)
) WITHOUT ROWID;

INSERT INTO rollups_hourly_dim (workspace_id, dim, hour, value, requests, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, cost)
SELECT workspace_id, 'model', hour, model, SUM(requests), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_write_tokens), SUM(output_tokens), SUM(reasoning_tokens), SUM(cost)
FROM rollups_hourly GROUP BY workspace_id, hour, model
UNION ALL
SELECT workspace_id, 'key', hour, key_id, SUM(requests), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_write_tokens), SUM(output_tokens), SUM(reasoning_tokens), SUM(cost)
FROM rollups_hourly GROUP BY workspace_id, hour, key_id
UNION ALL
SELECT workspace_id, 'project', hour, project, SUM(requests), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_write_tokens), SUM(output_tokens), SUM(reasoning_tokens), SUM(cost)
FROM rollups_hourly GROUP BY workspace_id, hour, project
UNION ALL
SELECT workspace_id, 'member', hour, member, SUM(requests), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_write_tokens), SUM(output_tokens), SUM(reasoning_tokens), SUM(cost)
FROM rollups_hourly GROUP BY workspace_id, hour, member;
