-- The request log (SQLite): what lets it answer any filter and sort without reading
-- every block (see docs/architecture.md, "The request log").
--
-- Each block keeps the range of the values the log sorts by (cost; tokens, input plus
-- output; latency), with an index per sort walking a workspace's blocks by their
-- highest value: a sorted page reads blocks until the next block's highest value cannot
-- beat the page's last event.
ALTER TABLE event_blocks ADD COLUMN max_cost BIGINT NOT NULL DEFAULT 0;
ALTER TABLE event_blocks ADD COLUMN min_cost BIGINT NOT NULL DEFAULT 0;
ALTER TABLE event_blocks ADD COLUMN max_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE event_blocks ADD COLUMN min_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE event_blocks ADD COLUMN max_latency BIGINT NOT NULL DEFAULT 0;
ALTER TABLE event_blocks ADD COLUMN min_latency BIGINT NOT NULL DEFAULT 0;
UPDATE event_blocks SET (max_cost, min_cost, max_tokens, min_tokens, max_latency, min_latency) = (
    SELECT COALESCE(MAX(e.value ->> 11), 0), COALESCE(MIN(e.value ->> 11), 0),
        COALESCE(MAX((e.value ->> 6) + (e.value ->> 9)), 0), COALESCE(MIN((e.value ->> 6) + (e.value ->> 9)), 0),
        COALESCE(MAX(e.value ->> 15), 0), COALESCE(MIN(e.value ->> 15), 0)
    FROM json_each(event_blocks.data) e);
CREATE INDEX event_blocks_cost ON event_blocks (workspace_id, max_cost, max_ts, seq, min_cost, min_ts);
CREATE INDEX event_blocks_tokens ON event_blocks (workspace_id, max_tokens, max_ts, seq, min_tokens, min_ts);
CREATE INDEX event_blocks_latency ON event_blocks (workspace_id, max_latency, max_ts, seq, min_latency, min_ts);
-- The last pages of a value order hold the lowest values: the blocks that can hold an
-- event below a cursor are those whose lowest value is not above it.
CREATE INDEX event_blocks_cost_low ON event_blocks (workspace_id, min_cost, max_ts, min_ts);
CREATE INDEX event_blocks_tokens_low ON event_blocks (workspace_id, min_tokens, max_ts, min_ts);
CREATE INDEX event_blocks_latency_low ON event_blocks (workspace_id, min_latency, max_ts, min_ts);
-- A block's ranges by its number, without reading the row: on SQLite the columns added
-- here come after the events' text, and reading them from the row walks its overflow
-- pages.
CREATE INDEX event_blocks_ranges ON event_blocks (seq, min_ts, max_ts, min_cost, min_tokens, min_latency);

-- Which blocks hold a value of a dimension: one row per block and distinct (dimension,
-- value) among its events, tag being spectra_event_key(dimension, value) (dimension one
-- of model, key, project, member), with the highest cost, tokens and latency among the
-- block's events of that value. A block with more than a few distinct values of a
-- dimension has one row with tag spectra_event_key(dimension || '*', '') instead (and
-- the block's highest values), which any value of that dimension may be in. A filtered
-- log walks these rows newest first, or by their highest value.
CREATE TABLE event_block_tags (
    workspace_id TEXT NOT NULL,
    tag          BIGINT NOT NULL,
    max_ts       BIGINT NOT NULL,
    seq          BIGINT NOT NULL,
    max_cost     BIGINT NOT NULL,
    max_tokens   BIGINT NOT NULL,
    max_latency  BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, tag, max_ts, seq)
) WITHOUT ROWID;
CREATE INDEX event_block_tags_cost ON event_block_tags (workspace_id, tag, max_cost, max_ts, seq);
CREATE INDEX event_block_tags_tokens ON event_block_tags (workspace_id, tag, max_tokens, max_ts, seq);
CREATE INDEX event_block_tags_latency ON event_block_tags (workspace_id, tag, max_latency, max_ts, seq);
INSERT INTO event_block_tags (workspace_id, tag, max_ts, seq, max_cost, max_tokens, max_latency)
SELECT b.workspace_id, spectra_event_key(d.dim, e.value ->> d.pos), b.max_ts, b.seq,
    MAX(e.value ->> 11), MAX((e.value ->> 6) + (e.value ->> 9)), MAX(e.value ->> 15)
FROM event_blocks b, json_each(b.data) e,
    (SELECT 'model' AS dim, 5 AS pos UNION ALL SELECT 'key', 2 UNION ALL SELECT 'project', 3 UNION ALL SELECT 'member', 4) d
WHERE true
GROUP BY b.seq, d.dim, e.value ->> d.pos
ON CONFLICT DO NOTHING;

-- An event's array gains a trailing element: the amount the gateway held for the
-- request (an older, shorter array reads as 0); the view also shows the two after it,
-- 1-hour cache writes and web search calls (written only when one is set; 0 when absent),
-- and an update through it keeps them.
DROP TRIGGER events_update;
DROP VIEW events;
CREATE VIEW events AS
SELECT b.workspace_id AS workspace_id, e.value ->> 0 AS id, e.value ->> 1 AS ts, e.value ->> 2 AS key_id, e.value ->> 3 AS project,
    e.value ->> 4 AS member, e.value ->> 5 AS model, e.value ->> 6 AS input_tokens, e.value ->> 7 AS cached_input_tokens,
    e.value ->> 8 AS cache_write_tokens, e.value ->> 9 AS output_tokens, e.value ->> 10 AS reasoning_tokens, e.value ->> 11 AS cost,
    CASE WHEN (e.value ->> 11) > 0 THEN b.usage_key ELSE '' END AS usage_key, e.value ->> 12 AS source, e.value ->> 13 AS endpoint,
    e.value ->> 14 AS status, e.value ->> 15 AS latency_ms, e.value ->> 16 AS stream, e.value ->> 17 AS estimated,
    e.value ->> 18 AS metadata, e.value ->> 19 AS hash, COALESCE(e.value ->> 20, 0) AS held,
    COALESCE(e.value ->> 21, 0) AS cache_write_1h_tokens, COALESCE(e.value ->> 22, 0) AS web_search_calls,
    b.ingested_at AS ingested_at, b.seq AS block, e.key AS pos
FROM event_blocks b, json_each(b.data) e;

-- An UPDATE of the view rewrites the event inside its block (the block-wide columns —
-- workspace, usage key, ingested_at — cannot change per event), then the block's time
-- range, value ranges and tags from its events. Only repairs and spectra verify's tests
-- change events.
CREATE TRIGGER events_update INSTEAD OF UPDATE ON events BEGIN
    UPDATE event_blocks SET data = json_replace(data, '$[' || OLD.pos || ']', json_array(NEW.id, NEW.ts, NEW.key_id, NEW.project,
        NEW.member, NEW.model, NEW.input_tokens, NEW.cached_input_tokens, NEW.cache_write_tokens, NEW.output_tokens,
        NEW.reasoning_tokens, NEW.cost, NEW.source, NEW.endpoint, NEW.status, NEW.latency_ms, NEW.stream, NEW.estimated,
        NEW.metadata, NEW.hash, NEW.held, NEW.cache_write_1h_tokens, NEW.web_search_calls)),
        min_ts = MIN(min_ts, NEW.ts), max_ts = MAX(max_ts, NEW.ts)
    WHERE seq = OLD.block;
    UPDATE event_blocks SET (max_cost, min_cost, max_tokens, min_tokens, max_latency, min_latency) = (
        SELECT COALESCE(MAX(e.value ->> 11), 0), COALESCE(MIN(e.value ->> 11), 0),
            COALESCE(MAX((e.value ->> 6) + (e.value ->> 9)), 0), COALESCE(MIN((e.value ->> 6) + (e.value ->> 9)), 0),
            COALESCE(MAX(e.value ->> 15), 0), COALESCE(MIN(e.value ->> 15), 0)
        FROM json_each(event_blocks.data) e)
    WHERE seq = OLD.block;
    DELETE FROM event_block_tags WHERE workspace_id = OLD.workspace_id AND seq = OLD.block;
    INSERT INTO event_block_tags (workspace_id, tag, max_ts, seq, max_cost, max_tokens, max_latency)
    SELECT b.workspace_id, spectra_event_key(d.dim, e.value ->> d.pos), b.max_ts, b.seq,
        MAX(e.value ->> 11), MAX((e.value ->> 6) + (e.value ->> 9)), MAX(e.value ->> 15)
    FROM event_blocks b, json_each(b.data) e,
        (SELECT 'model' AS dim, 5 AS pos UNION ALL SELECT 'key', 2 UNION ALL SELECT 'project', 3 UNION ALL SELECT 'member', 4) d
    WHERE b.seq = OLD.block
    GROUP BY b.seq, d.dim, e.value ->> d.pos
    ON CONFLICT DO NOTHING;
END;
