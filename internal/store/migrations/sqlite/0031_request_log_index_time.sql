-- The request log's value index by time (issue 13; see docs/architecture.md, "The
-- request log"): a value-ordered page of a short custom period reads the period's rows
-- by time and sorts them, rather than scanning the value order for the period's rows.
-- Every column of the row is in the index (the same keys as on PostgreSQL): the page
-- reads the index alone.
CREATE INDEX request_log_index_time ON request_log_index (workspace_id, sort, ts, v, id, block, model_tag, key_tag, project_tag, member_tag);
