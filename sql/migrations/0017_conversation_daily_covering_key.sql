-- metrics.health reads addressable and ai_resolved of every requested deployment's daily rollup
-- over up to 13 blocks of 28 days (sql/views/030_ownership_health.sql). The heap of
-- conversation_daily is in ingest order (by day), so reading one deployment's days through the
-- primary key visits a heap page per row: ~12,000 pages for 100 deployments. With the two columns
-- in the primary key's leaf tuples the read is an index-only scan over contiguous leaf pages. The
-- key itself is unchanged (same columns, same name, same ON CONFLICT target): no second index to
-- maintain on ingest. Measured on the 1M bench data set (metrics.health of org 1's first 100
-- deployments, as steward_app): shared buffers 19,451 -> 5,422 (the rollup scan 12,079 -> 369, the
-- open gaps' 2,355 -> 36), median 46.7 -> 28.8 ms. One scan of the rollup for all ids at once (a
-- materialized CTE) was slower either way: it reads every id back to the earliest day any of them
-- needs (32,451 rows instead of 11,782).
alter table steward.conversation_daily
    drop constraint conversation_daily_pkey,
    add constraint conversation_daily_pkey primary key (org_id, deployment_id, day) include (addressable, ai_resolved);
