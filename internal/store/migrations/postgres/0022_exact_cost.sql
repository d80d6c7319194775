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
DROP VIEW events;
CREATE VIEW events AS
SELECT b.workspace_id AS workspace_id, e.v ->> 0 AS id, (e.v ->> 1)::bigint AS ts, e.v ->> 2 AS key_id, e.v ->> 3 AS project,
    e.v ->> 4 AS member, e.v ->> 5 AS model, (e.v ->> 6)::bigint AS input_tokens, (e.v ->> 7)::bigint AS cached_input_tokens,
    (e.v ->> 8)::bigint AS cache_write_tokens, (e.v ->> 9)::bigint AS output_tokens, (e.v ->> 10)::bigint AS reasoning_tokens,
    (e.v ->> 11)::bigint AS cost, CASE WHEN (e.v ->> 11)::bigint > 0 THEN b.usage_key ELSE '' END AS usage_key,
    e.v ->> 12 AS source, e.v ->> 13 AS endpoint, (e.v ->> 14)::integer AS status, (e.v ->> 15)::bigint AS latency_ms,
    (e.v ->> 16)::integer AS stream, (e.v ->> 17)::integer AS estimated, e.v ->> 18 AS metadata, e.v ->> 19 AS hash,
    COALESCE((e.v ->> 20)::bigint, 0) AS held, COALESCE((e.v ->> 21)::bigint, 0) AS cache_write_1h_tokens,
    COALESCE((e.v ->> 22)::bigint, 0) AS web_search_calls, COALESCE((e.v ->> 23)::bigint, 0) AS price_from,
    COALESCE((e.v ->> 24)::bigint, (e.v ->> 11)::bigint) AS cost_exact_micro, COALESCE((e.v ->> 25)::bigint, 0) AS cost_exact_frac,
    COALESCE(e.v ->> 26, '') AS billed_service_tier, COALESCE(e.v ->> 27, '') AS price_list,
    COALESCE(e.v ->> 28, '') AS service_tier, COALESCE((e.v ->> 29)::bigint, 0) AS context_tier,
    COALESCE((e.v ->> 30)::bigint, 0) AS audio_input_tokens, COALESCE((e.v ->> 31)::bigint, 0) AS audio_output_tokens,
    COALESCE((e.v ->> 32)::bigint, 0) AS image_input_tokens, COALESCE((e.v ->> 33)::bigint, 0) AS image_output_tokens,
    e.v ->> 34 AS units, b.ingested_at AS ingested_at, b.seq AS block, (e.pos - 1)::integer AS pos
FROM event_blocks b CROSS JOIN LATERAL json_array_elements(b.data::json) WITH ORDINALITY AS e(v, pos);

CREATE OR REPLACE FUNCTION events_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE event_blocks SET data = jsonb_set(data::jsonb, ARRAY[OLD.pos::text], jsonb_build_array(NEW.id, NEW.ts, NEW.key_id,
        NEW.project, NEW.member, NEW.model, NEW.input_tokens, NEW.cached_input_tokens, NEW.cache_write_tokens, NEW.output_tokens,
        NEW.reasoning_tokens, NEW.cost, NEW.source, NEW.endpoint, NEW.status, NEW.latency_ms, NEW.stream, NEW.estimated,
        NEW.metadata, NEW.hash, NEW.held, NEW.cache_write_1h_tokens, NEW.web_search_calls, NEW.price_from,
        NEW.cost_exact_micro, NEW.cost_exact_frac, NEW.billed_service_tier, NEW.price_list, NEW.service_tier,
        NEW.context_tier, NEW.audio_input_tokens, NEW.audio_output_tokens, NEW.image_input_tokens, NEW.image_output_tokens,
        NEW.units::jsonb))::text,
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
