-- Events are stored in blocks (PostgreSQL). A block holds the events one commit group
-- applied for one workspace within a minute of event time, as a JSON array of arrays (one
-- array per event; see internal/store/event_blocks.go for the layout), so a batch of 500
-- events costs a handful of row inserts instead of 500 wide rows and two text index
-- entries each. Exactly-once rests on event_ids: a 64-bit hash of (workspace, id) as the
-- key of a narrow table, pointing to the block that holds the event; an event whose hash
-- is taken by another (workspace, id) is kept exactly in event_id_overflow.
-- `events` stays as a view with the columns it always had (verify, ad-hoc queries).
CREATE SEQUENCE event_blocks_seq;
CREATE TABLE event_blocks (
    seq          BIGINT PRIMARY KEY DEFAULT nextval('event_blocks_seq'),
    workspace_id TEXT NOT NULL,
    min_ts       BIGINT NOT NULL,
    max_ts       BIGINT NOT NULL,
    n            INTEGER NOT NULL,
    usage_key    TEXT NOT NULL DEFAULT '',
    ingested_at  BIGINT NOT NULL,
    data         TEXT NOT NULL
);
ALTER SEQUENCE event_blocks_seq OWNED BY event_blocks.seq;
-- The request log walks a workspace's blocks newest first.
CREATE INDEX event_blocks_log ON event_blocks (workspace_id, max_ts, seq);

CREATE TABLE event_ids (
    k     BIGINT PRIMARY KEY,
    block BIGINT NOT NULL
);

CREATE TABLE event_id_overflow (
    workspace_id TEXT NOT NULL,
    id           TEXT NOT NULL,
    block        BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id)
);

-- The 64-bit key of (workspace, id): the first 8 bytes of SHA-256 over
-- "<len(ws)>:<ws><len(id)>:<id>" (lengths in bytes), as a signed big-endian integer;
-- the store computes the same in Go (eventKey).
CREATE FUNCTION spectra_event_key(ws TEXT, id TEXT) RETURNS BIGINT LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT ('x' || encode(substring(sha256(convert_to(octet_length(ws) || ':' || ws || octet_length(id) || ':' || id, 'UTF8')) FROM 1 FOR 8), 'hex'))::bit(64)::bigint
$$;

-- Existing events move into blocks: one per workspace, commit (ingested_at, usage key)
-- and minute of event time.
INSERT INTO event_blocks (workspace_id, min_ts, max_ts, n, usage_key, ingested_at, data)
SELECT workspace_id, MIN(ts), MAX(ts), COUNT(*), usage_key, ingested_at,
    json_agg(json_build_array(id, ts, key_id, project, member, model, input_tokens, cached_input_tokens, cache_write_tokens,
        output_tokens, reasoning_tokens, cost, source, endpoint, status, latency_ms, stream, estimated, metadata, hash) ORDER BY ts, id)::text
FROM events
GROUP BY workspace_id, ingested_at, usage_key, ts / 60000000;

INSERT INTO event_ids (k, block)
SELECT spectra_event_key(b.workspace_id, e.v ->> 0), b.seq FROM event_blocks b, json_array_elements(b.data::json) e(v)
ON CONFLICT DO NOTHING;
INSERT INTO event_id_overflow (workspace_id, id, block)
SELECT b.workspace_id, e.v ->> 0, b.seq FROM event_blocks b, json_array_elements(b.data::json) e(v)
WHERE NOT EXISTS (SELECT 1 FROM event_ids i WHERE i.k = spectra_event_key(b.workspace_id, e.v ->> 0) AND i.block = b.seq);

DROP TABLE events;

CREATE VIEW events AS
SELECT b.workspace_id AS workspace_id, e.v ->> 0 AS id, (e.v ->> 1)::bigint AS ts, e.v ->> 2 AS key_id, e.v ->> 3 AS project,
    e.v ->> 4 AS member, e.v ->> 5 AS model, (e.v ->> 6)::bigint AS input_tokens, (e.v ->> 7)::bigint AS cached_input_tokens,
    (e.v ->> 8)::bigint AS cache_write_tokens, (e.v ->> 9)::bigint AS output_tokens, (e.v ->> 10)::bigint AS reasoning_tokens,
    (e.v ->> 11)::bigint AS cost, CASE WHEN (e.v ->> 11)::bigint > 0 THEN b.usage_key ELSE '' END AS usage_key,
    e.v ->> 12 AS source, e.v ->> 13 AS endpoint, (e.v ->> 14)::integer AS status, (e.v ->> 15)::bigint AS latency_ms,
    (e.v ->> 16)::integer AS stream, (e.v ->> 17)::integer AS estimated, e.v ->> 18 AS metadata, e.v ->> 19 AS hash,
    b.ingested_at AS ingested_at, b.seq AS block, (e.pos - 1)::integer AS pos
FROM event_blocks b CROSS JOIN LATERAL json_array_elements(b.data::json) WITH ORDINALITY AS e(v, pos);

-- An UPDATE of the view rewrites the event inside its block (the block-wide columns —
-- workspace, usage key, ingested_at — cannot change per event). Only repairs and
-- spectra verify's tests change events.
CREATE FUNCTION events_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE event_blocks SET data = jsonb_set(data::jsonb, ARRAY[OLD.pos::text], jsonb_build_array(NEW.id, NEW.ts, NEW.key_id,
        NEW.project, NEW.member, NEW.model, NEW.input_tokens, NEW.cached_input_tokens, NEW.cache_write_tokens, NEW.output_tokens,
        NEW.reasoning_tokens, NEW.cost, NEW.source, NEW.endpoint, NEW.status, NEW.latency_ms, NEW.stream, NEW.estimated,
        NEW.metadata, NEW.hash))::text,
        min_ts = LEAST(min_ts, NEW.ts), max_ts = GREATEST(max_ts, NEW.ts)
    WHERE seq = OLD.block;
    RETURN NEW;
END
$$;
CREATE TRIGGER events_update INSTEAD OF UPDATE ON events FOR EACH ROW EXECUTE FUNCTION events_update();
