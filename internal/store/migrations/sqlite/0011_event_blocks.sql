-- Events are stored in blocks (SQLite). A block holds the events one commit group applied
-- for one workspace within a minute of event time, as a JSON array of arrays (one array
-- per event; see internal/store/event_blocks.go for the layout), so a batch of 500 events
-- costs a handful of row inserts instead of 500 wide rows and two text index entries
-- each. Exactly-once rests on event_ids: a 64-bit hash of (workspace, id) as the integer
-- key of a narrow table, pointing to the block that holds the event; an event whose hash
-- is taken by another (workspace, id) is kept exactly in event_id_overflow.
-- `events` stays as a view with the columns it always had (verify, ad-hoc queries).
CREATE TABLE event_blocks (
    seq          INTEGER PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    min_ts       BIGINT NOT NULL,
    max_ts       BIGINT NOT NULL,
    n            INTEGER NOT NULL,
    usage_key    TEXT NOT NULL DEFAULT '',
    ingested_at  BIGINT NOT NULL,
    data         TEXT NOT NULL
);
-- The request log walks a workspace's blocks newest first.
CREATE INDEX event_blocks_log ON event_blocks (workspace_id, max_ts, seq);

CREATE TABLE event_ids (
    k     INTEGER PRIMARY KEY,
    block BIGINT NOT NULL
);

CREATE TABLE event_id_overflow (
    workspace_id TEXT NOT NULL,
    id           TEXT NOT NULL,
    block        BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id)
);

-- Existing events move into blocks: one per workspace, commit (ingested_at, usage key)
-- and minute of event time.
INSERT INTO event_blocks (workspace_id, min_ts, max_ts, n, usage_key, ingested_at, data)
SELECT workspace_id, MIN(ts), MAX(ts), COUNT(*), usage_key, ingested_at,
    json_group_array(json_array(id, ts, key_id, project, member, model, input_tokens, cached_input_tokens, cache_write_tokens,
        output_tokens, reasoning_tokens, cost, source, endpoint, status, latency_ms, stream, estimated, metadata, hash))
FROM (SELECT * FROM events ORDER BY workspace_id, ts, id)
GROUP BY workspace_id, ingested_at, usage_key, ts / 60000000;

INSERT INTO event_ids (k, block)
SELECT spectra_event_key(b.workspace_id, e.value ->> 0), b.seq FROM event_blocks b, json_each(b.data) e WHERE true
ON CONFLICT DO NOTHING;
INSERT INTO event_id_overflow (workspace_id, id, block)
SELECT b.workspace_id, e.value ->> 0, b.seq FROM event_blocks b, json_each(b.data) e
WHERE NOT EXISTS (SELECT 1 FROM event_ids i WHERE i.k = spectra_event_key(b.workspace_id, e.value ->> 0) AND i.block = b.seq);

DROP TABLE events;

CREATE VIEW events AS
SELECT b.workspace_id AS workspace_id, e.value ->> 0 AS id, e.value ->> 1 AS ts, e.value ->> 2 AS key_id, e.value ->> 3 AS project,
    e.value ->> 4 AS member, e.value ->> 5 AS model, e.value ->> 6 AS input_tokens, e.value ->> 7 AS cached_input_tokens,
    e.value ->> 8 AS cache_write_tokens, e.value ->> 9 AS output_tokens, e.value ->> 10 AS reasoning_tokens, e.value ->> 11 AS cost,
    CASE WHEN (e.value ->> 11) > 0 THEN b.usage_key ELSE '' END AS usage_key, e.value ->> 12 AS source, e.value ->> 13 AS endpoint,
    e.value ->> 14 AS status, e.value ->> 15 AS latency_ms, e.value ->> 16 AS stream, e.value ->> 17 AS estimated,
    e.value ->> 18 AS metadata, e.value ->> 19 AS hash, b.ingested_at AS ingested_at, b.seq AS block, e.key AS pos
FROM event_blocks b, json_each(b.data) e;

-- An UPDATE of the view rewrites the event inside its block (the block-wide columns —
-- workspace, usage key, ingested_at — cannot change per event). Only repairs and
-- spectra verify's tests change events.
CREATE TRIGGER events_update INSTEAD OF UPDATE ON events BEGIN
    UPDATE event_blocks SET data = json_replace(data, '$[' || OLD.pos || ']', json_array(NEW.id, NEW.ts, NEW.key_id, NEW.project,
        NEW.member, NEW.model, NEW.input_tokens, NEW.cached_input_tokens, NEW.cache_write_tokens, NEW.output_tokens,
        NEW.reasoning_tokens, NEW.cost, NEW.source, NEW.endpoint, NEW.status, NEW.latency_ms, NEW.stream, NEW.estimated,
        NEW.metadata, NEW.hash)),
        min_ts = MIN(min_ts, NEW.ts), max_ts = MAX(max_ts, NEW.ts)
    WHERE seq = OLD.block;
END;
