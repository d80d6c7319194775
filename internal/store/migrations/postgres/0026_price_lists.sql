-- Price lists (issue 15): a named list a workspace may be assigned, over the catalog.
-- adjust_bp is its adjustment of the catalog in basis points (-15 % = -1500; 0: none),
-- fixed when the list is made. price_list_prices are the list's own versions of some
-- models, immutable as the catalog's (a later effective_from supersedes one): data is the
-- version's prices as JSON, in the shape of GET /api/v1/prices (amounts as decimal
-- strings), so that every field a price version has is kept whatever columns the
-- catalog's table gains. workspaces.price_list is the list the workspace's events are
-- priced by (NULL: the catalog as it is); an assignment prices the events priced after
-- it, recorded events keep what they were charged.
CREATE TABLE price_lists (
    name       TEXT PRIMARY KEY,
    adjust_bp  BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE price_list_prices (
    list_name      TEXT NOT NULL REFERENCES price_lists (name),
    model          TEXT NOT NULL,
    effective_from BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    data           TEXT NOT NULL,
    PRIMARY KEY (list_name, model, effective_from)
);

ALTER TABLE workspaces ADD COLUMN price_list TEXT REFERENCES price_lists (name);
CREATE INDEX workspaces_price_list ON workspaces (price_list);
