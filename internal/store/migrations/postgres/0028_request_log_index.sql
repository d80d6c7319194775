-- The request log's value index (issue 13; see docs/architecture.md, "The request log"):
-- one row per event and value order (sort 1 cost, 2 tokens, input plus output, 3
-- latency), in the order's own order, so a page anywhere in a value order is a range
-- scan. It is written off the ingest path, by the indexer (request_log_index.go), which
-- follows event_blocks by seq: the setting request_log_indexed_through is the highest
-- block it has indexed, and every block up to it is indexed but those listed in
-- request_log_index_gaps. The request log reads the blocks after it (and the gaps) as
-- they are and merges them. model_tag, key_tag, project_tag and member_tag are 32-bit
-- hashes of the event's values (the low half of spectra_event_key(dimension, value)),
-- so a filter is checked in the index; every event read is matched exactly. Ids compare
-- bytewise (COLLATE "C"), as the log's order breaks ties.
CREATE TABLE request_log_index (
    workspace_id TEXT NOT NULL,
    sort         INTEGER NOT NULL,
    v            BIGINT NOT NULL,
    ts           BIGINT NOT NULL,
    id           TEXT COLLATE "C" NOT NULL,
    block        BIGINT NOT NULL,
    model_tag    INTEGER NOT NULL,
    key_tag      INTEGER NOT NULL,
    project_tag  INTEGER NOT NULL,
    member_tag   INTEGER NOT NULL,
    -- The rest of the row in the key's index too: a page is an index-only scan.
    PRIMARY KEY (workspace_id, sort, v, ts, id) INCLUDE (block, model_tag, key_tag, project_tag, member_tag)
);

-- Block numbers below the high-water mark the indexer had not seen when it moved the
-- mark past them: on PostgreSQL a block's number is taken before its transaction
-- commits, so a lower number can commit after a higher one. The indexer indexes such a
-- block when it appears and forgets a number that never does (an aborted transaction's)
-- once every transaction that was running when it was noted has ended (next_xid, the
-- snapshot's next transaction id then; 0 on SQLite, whose numbers never skip) and a
-- minute has passed (noted_at, µs).
CREATE TABLE request_log_index_gaps (
    seq      BIGINT PRIMARY KEY,
    next_xid BIGINT NOT NULL,
    noted_at BIGINT NOT NULL
);

-- A repair that rewrites a block's events (an UPDATE of the events view) lists the
-- block here too: the log reads it as it is until the indexer has indexed it again. The
-- rows of its former values stay, and are skipped where they no longer match the event.
CREATE FUNCTION request_log_reindex() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO request_log_index_gaps (seq, next_xid, noted_at) VALUES (NEW.seq, 0, 0) ON CONFLICT DO NOTHING;
    RETURN NEW;
END
$$;
CREATE TRIGGER request_log_reindex AFTER UPDATE OF data ON event_blocks FOR EACH ROW EXECUTE FUNCTION request_log_reindex();
