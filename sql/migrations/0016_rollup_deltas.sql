-- Ingest at bulk speed (issue 14, item 6).
--
-- 1. The rollup triggers now add each statement's delta to the rollup rows
--    (sql/views/010_conversation_rollup.sql, internals.rollup_delta_sql) instead of
--    deleting and recomputing the touched days, so they update rows in place.
grant update on steward.conversation_topic_daily to steward_app;

-- 2. conversations (org_id, deployment_id, started_at) was read only by the rollup
--    refresh's per-day range scans, which the deltas replaced; every remaining reader
--    wants all of a deployment's conversations (a refresh after a coverage or reopen-window
--    change, the cascade of a deployment's deletion). Keyed by started_at, each insert
--    landed on a random leaf page: 1M rows took ~15 s longer to insert than with
--    (org_id, deployment_id), whose equal keys are appended in heap order (deduplicated).
create index conversations_deployment on steward.conversations (org_id, deployment_id);
drop index steward.conversations_deployment_time;
