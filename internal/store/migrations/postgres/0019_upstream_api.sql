-- Each upstream speaks one API: the gateway routes a model to the upstreams of the API
-- the client called ('openai', 'anthropic' or 'gemini'). Existing upstreams are OpenAI's.
ALTER TABLE upstreams ADD COLUMN api TEXT NOT NULL DEFAULT 'openai';
-- Prices of Anthropic's 1-hour cache writes (per 1M tokens; 0: priced at cache_write)
-- and of a web search call (per call), in micro-units.
ALTER TABLE prices ADD COLUMN cache_write_1h BIGINT NOT NULL DEFAULT 0;
ALTER TABLE prices ADD COLUMN web_search_call BIGINT NOT NULL DEFAULT 0;
