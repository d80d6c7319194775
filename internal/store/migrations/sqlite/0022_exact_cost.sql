-- No revenue lost to rounding (issue 15). Each event keeps its exact cost, and each
-- wallet a running sub-micro carry: an accepted event is charged floor(carry + exact)
-- micro-units and the remainder is carried to the wallet's next event, so the usage a
-- wallet is charged equals the exact sum of its events' costs to within one micro-unit.
-- usage_carry is in 10^-6 micro-units (10^-12 of the currency), from 0 to 999999.
ALTER TABLE accounts ADD COLUMN usage_carry BIGINT NOT NULL DEFAULT 0 CHECK (usage_carry >= 0 AND usage_carry < 1000000);

-- An event's array gains trailing elements, each written only up to the last one that is
-- set (an older, shorter array reads each absent one as its default):
--   23 price_effective_from (microseconds; 0: not recorded, an event from before)
--   24, 25 the exact cost: micro-units and 10^-6 micro-units (absent: the cost, exactly)
--   26 billed_service_tier ('' : default), 27 price_list ('' : the catalog),
--   28 service_tier as reported, 29 context_tier_above_input_tokens,
--   30-33 audio input, audio output, image input, image output tokens,
--   34 units (a JSON object of counts, or null).
-- The view shows them, and an update through it keeps them.
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
    COALESCE(e.value ->> 23, 0) AS price_from, COALESCE(e.value ->> 24, e.value ->> 11) AS cost_exact_micro,
    COALESCE(e.value ->> 25, 0) AS cost_exact_frac, COALESCE(e.value ->> 26, '') AS billed_service_tier,
    COALESCE(e.value ->> 27, '') AS price_list, COALESCE(e.value ->> 28, '') AS service_tier,
    COALESCE(e.value ->> 29, 0) AS context_tier, COALESCE(e.value ->> 30, 0) AS audio_input_tokens,
    COALESCE(e.value ->> 31, 0) AS audio_output_tokens, COALESCE(e.value ->> 32, 0) AS image_input_tokens,
    COALESCE(e.value ->> 33, 0) AS image_output_tokens, e.value ->> 34 AS units,
    b.ingested_at AS ingested_at, b.seq AS block, e.key AS pos
FROM event_blocks b, json_each(b.data) e;

CREATE TRIGGER events_update INSTEAD OF UPDATE ON events BEGIN
    UPDATE event_blocks SET data = json_replace(data, '$[' || OLD.pos || ']', json_array(NEW.id, NEW.ts, NEW.key_id, NEW.project,
        NEW.member, NEW.model, NEW.input_tokens, NEW.cached_input_tokens, NEW.cache_write_tokens, NEW.output_tokens,
        NEW.reasoning_tokens, NEW.cost, NEW.source, NEW.endpoint, NEW.status, NEW.latency_ms, NEW.stream, NEW.estimated,
        NEW.metadata, NEW.hash, NEW.held, NEW.cache_write_1h_tokens, NEW.web_search_calls, NEW.price_from,
        NEW.cost_exact_micro, NEW.cost_exact_frac, NEW.billed_service_tier, NEW.price_list, NEW.service_tier,
        NEW.context_tier, NEW.audio_input_tokens, NEW.audio_output_tokens, NEW.image_input_tokens, NEW.image_output_tokens,
        json(NEW.units))),
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
