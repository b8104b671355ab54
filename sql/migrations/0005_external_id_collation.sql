-- External ids are opaque keys from CX platforms: compare them bytewise. The
-- "C" collation makes the unique index that every ingest merge probes ~20%
-- cheaper than a linguistic collation, and ids never need linguistic order.
alter table steward.conversations alter column external_id type text collate "C";
