-- ARR_DECAYED_SINCE_OWNER_LEFT (sql/views/030_ownership_health.sql): an unowned
-- deployment whose ARR over the latest 4 weeks of its open ownership gap is this
-- many points or more below the 4 weeks before the gap.
alter table steward.health_policies
    add column arr_decay_points numeric(5,2) not null default 10.00
        check (arr_decay_points between 0 and 100);
comment on column steward.health_policies.arr_decay_points is
    'ARR_DECAYED_SINCE_OWNER_LEFT: points of ARR lost since the owner left (baseline vs the gap''s latest 4 weeks).';
