-- The request log (PostgreSQL): what lets it answer any filter and sort without reading
-- every block (see docs/architecture.md, "The request log").
--
-- Each block keeps the range of the values the log sorts by (cost; tokens, input plus
-- output; latency), with an index per sort walking a workspace's blocks by their
-- highest value: a sorted page reads blocks until the next block's highest value cannot
-- beat the page's last event.
ALTER TABLE event_blocks ADD COLUMN max_cost BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN min_cost BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN max_tokens BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN min_tokens BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN max_latency BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN min_latency BIGINT NOT NULL DEFAULT 0;
CREATE FUNCTION event_block_ranges(data TEXT) RETURNS TABLE (max_cost BIGINT, min_cost BIGINT, max_tokens BIGINT,
    min_tokens BIGINT, max_latency BIGINT, min_latency BIGINT) LANGUAGE sql IMMUTABLE AS $$
    SELECT COALESCE(MAX((v ->> 11)::bigint), 0), COALESCE(MIN((v ->> 11)::bigint), 0),
        COALESCE(MAX((v ->> 6)::bigint + (v ->> 9)::bigint), 0), COALESCE(MIN((v ->> 6)::bigint + (v ->> 9)::bigint), 0),
        COALESCE(MAX((v ->> 15)::bigint), 0), COALESCE(MIN((v ->> 15)::bigint), 0)
    FROM json_array_elements(data::json) AS e(v)
$$;
UPDATE event_blocks b SET (max_cost, min_cost, max_tokens, min_tokens, max_latency, min_latency) =
    (SELECT * FROM event_block_ranges(b.data));
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
);
CREATE INDEX event_block_tags_cost ON event_block_tags (workspace_id, tag, max_cost, max_ts, seq);
CREATE INDEX event_block_tags_tokens ON event_block_tags (workspace_id, tag, max_tokens, max_ts, seq);
CREATE INDEX event_block_tags_latency ON event_block_tags (workspace_id, tag, max_latency, max_ts, seq);
-- The tag rows of blocks: all of them (block NULL) or one.
CREATE FUNCTION event_block_tag_rows(block BIGINT) RETURNS TABLE (workspace_id TEXT, tag BIGINT, max_ts BIGINT, seq BIGINT,
    max_cost BIGINT, max_tokens BIGINT, max_latency BIGINT)
LANGUAGE sql STABLE AS $$
    SELECT b.workspace_id, spectra_event_key(d.dim, e.v ->> d.pos), b.max_ts, b.seq,
        MAX((e.v ->> 11)::bigint), MAX((e.v ->> 6)::bigint + (e.v ->> 9)::bigint), MAX((e.v ->> 15)::bigint)
    FROM event_blocks b CROSS JOIN LATERAL json_array_elements(b.data::json) AS e(v),
        (VALUES ('model', 5), ('key', 2), ('project', 3), ('member', 4)) AS d(dim, pos)
    WHERE block IS NULL OR b.seq = block
    GROUP BY b.workspace_id, b.max_ts, b.seq, d.dim, e.v ->> d.pos
$$;
INSERT INTO event_block_tags (workspace_id, tag, max_ts, seq, max_cost, max_tokens, max_latency)
SELECT * FROM event_block_tag_rows(NULL)
ON CONFLICT DO NOTHING;

-- An event's array gains a trailing element: the amount the gateway held for the
-- request (an older, shorter array reads as 0); the view also shows the two after it,
-- 1-hour cache writes and web search calls (written only when one is set; 0 when absent),
-- and an update through it keeps them.
DROP VIEW events;
CREATE VIEW events AS
SELECT b.workspace_id AS workspace_id, e.v ->> 0 AS id, (e.v ->> 1)::bigint AS ts, e.v ->> 2 AS key_id, e.v ->> 3 AS project,
    e.v ->> 4 AS member, e.v ->> 5 AS model, (e.v ->> 6)::bigint AS input_tokens, (e.v ->> 7)::bigint AS cached_input_tokens,
    (e.v ->> 8)::bigint AS cache_write_tokens, (e.v ->> 9)::bigint AS output_tokens, (e.v ->> 10)::bigint AS reasoning_tokens,
    (e.v ->> 11)::bigint AS cost, CASE WHEN (e.v ->> 11)::bigint > 0 THEN b.usage_key ELSE '' END AS usage_key,
    e.v ->> 12 AS source, e.v ->> 13 AS endpoint, (e.v ->> 14)::integer AS status, (e.v ->> 15)::bigint AS latency_ms,
    (e.v ->> 16)::integer AS stream, (e.v ->> 17)::integer AS estimated, e.v ->> 18 AS metadata, e.v ->> 19 AS hash,
    COALESCE((e.v ->> 20)::bigint, 0) AS held, COALESCE((e.v ->> 21)::bigint, 0) AS cache_write_1h_tokens,
    COALESCE((e.v ->> 22)::bigint, 0) AS web_search_calls, b.ingested_at AS ingested_at, b.seq AS block,
    (e.pos - 1)::integer AS pos
FROM event_blocks b CROSS JOIN LATERAL json_array_elements(b.data::json) WITH ORDINALITY AS e(v, pos);

-- An UPDATE of the view rewrites the event inside its block (the block-wide columns —
-- workspace, usage key, ingested_at — cannot change per event), then the block's time
-- range, value ranges and tags from its events. Only repairs and spectra verify's tests
-- change events.
CREATE OR REPLACE FUNCTION events_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE event_blocks SET data = jsonb_set(data::jsonb, ARRAY[OLD.pos::text], jsonb_build_array(NEW.id, NEW.ts, NEW.key_id,
        NEW.project, NEW.member, NEW.model, NEW.input_tokens, NEW.cached_input_tokens, NEW.cache_write_tokens, NEW.output_tokens,
        NEW.reasoning_tokens, NEW.cost, NEW.source, NEW.endpoint, NEW.status, NEW.latency_ms, NEW.stream, NEW.estimated,
        NEW.metadata, NEW.hash, NEW.held, NEW.cache_write_1h_tokens, NEW.web_search_calls))::text,
        min_ts = LEAST(min_ts, NEW.ts), max_ts = GREATEST(max_ts, NEW.ts)
    WHERE seq = OLD.block;
    UPDATE event_blocks b SET (max_cost, min_cost, max_tokens, min_tokens, max_latency, min_latency) =
        (SELECT * FROM event_block_ranges(b.data))
    WHERE b.seq = OLD.block;
    DELETE FROM event_block_tags t WHERE t.workspace_id = OLD.workspace_id AND t.seq = OLD.block;
    INSERT INTO event_block_tags (workspace_id, tag, max_ts, seq, max_cost, max_tokens, max_latency)
    SELECT * FROM event_block_tag_rows(OLD.block) ON CONFLICT DO NOTHING;
    RETURN NEW;
END
$$;
CREATE TRIGGER events_update INSTEAD OF UPDATE ON events FOR EACH ROW EXECUTE FUNCTION events_update();
