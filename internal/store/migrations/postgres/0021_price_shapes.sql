-- The shapes of a price version (issue 15): per-1M prices of audio and image input and
-- output tokens (micro-units; 0: not set, priced at input / output), and shapes, the
-- canonical JSON text of the version's units, context tiers and service tiers
-- (pricing.Price.ShapesJSON: map keys sorted, amounts as decimal strings; '' when it has
-- none). Existing rows keep their meaning: no modality prices, no shapes.
ALTER TABLE prices ADD COLUMN audio_input BIGINT NOT NULL DEFAULT 0;
ALTER TABLE prices ADD COLUMN audio_output BIGINT NOT NULL DEFAULT 0;
ALTER TABLE prices ADD COLUMN image_input BIGINT NOT NULL DEFAULT 0;
ALTER TABLE prices ADD COLUMN image_output BIGINT NOT NULL DEFAULT 0;
ALTER TABLE prices ADD COLUMN shapes TEXT NOT NULL DEFAULT '';
