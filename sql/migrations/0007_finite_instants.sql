-- Every instant, date and period a tenant table holds lies in the supported
-- range: from 1970-01-01T00:00:00Z (inclusive) to 2100-01-01T00:00:00Z
-- (exclusive), the same range the API's Date/DateTime scalars and ingest
-- accept (service/instants.py). ±infinity compares outside both bounds, so
-- "in range" also means "finite". Outside it, a value came from a mistake
-- (asyncpg sends 0001-01-01T00:00:00Z as -infinity) and made day arithmetic in
-- the metric views fail for a whole organization.
--
-- Existing rows: each constraint is added NOT VALID, so from now on every
-- insert and update is checked, and then validated where the table is clean.
-- A table that already holds an out-of-range value keeps its constraint NOT
-- VALID and the migration says so (WARNING) instead of failing or rewriting
-- history: ownership periods may not be rewritten (guard_ownership_history),
-- and which instant a bad value meant is for a person to decide. Reads stay
-- correct meanwhile (the views tolerate such rows: sql/views, 030). To repair:
--   select conrelid::regclass, conname from pg_constraint
--    where connamespace = 'steward'::regnamespace and conname like '%in_range' and not convalidated;
-- fix or delete the rows the constraint's expression refuses, then
--   alter table <table> validate constraint <conname>;
-- The bounds are literals here and in the functions below: a different range
-- is a new migration, never an edit of these functions.

create function steward.instant_in_range(t timestamptz) returns boolean
language sql immutable parallel safe
as $$ select t >= timestamptz '1970-01-01 00:00:00+00' and t < timestamptz '2100-01-01 00:00:00+00' $$;

create function steward.day_in_range(d date) returns boolean
language sql immutable parallel safe
as $$ select d >= date '1970-01-01' and d < date '2100-01-01' $$;

-- A period: its start in range (never unbounded), its end unbounded (open) or in range.
create function steward.period_in_range(p tstzrange) returns boolean
language sql immutable parallel safe
as $$ select steward.instant_in_range(lower(p)) and (upper_inf(p) or steward.instant_in_range(upper(p))) $$;

comment on function steward.instant_in_range(timestamptz) is
    'True for instants in the supported range [1970-01-01T00:00:00Z, 2100-01-01T00:00:00Z) (so finite).';
comment on function steward.day_in_range(date) is 'True for days in the supported range [1970-01-01, 2100-01-01).';
comment on function steward.period_in_range(tstzrange) is
    'True when the period starts in the supported range and is open-ended or ends in it.';

alter table steward.bi_logins
    add constraint bi_logins_created_at_in_range check (steward.instant_in_range(created_at)) not valid;
alter table steward.organizations
    add constraint organizations_created_at_in_range check (steward.instant_in_range(created_at)) not valid;
alter table steward.health_policies
    add constraint health_policies_updated_at_in_range check (steward.instant_in_range(updated_at)) not valid;
alter table steward.persons
    add constraint persons_deactivated_at_in_range check (steward.instant_in_range(deactivated_at)) not valid,
    add constraint persons_created_at_in_range check (steward.instant_in_range(created_at)) not valid;
alter table steward.deployments
    add constraint deployments_launched_at_in_range check (steward.instant_in_range(launched_at)) not valid,
    add constraint deployments_created_at_in_range check (steward.instant_in_range(created_at)) not valid;
alter table steward.ownership_assignments
    add constraint ownership_assignments_valid_in_range check (steward.period_in_range(valid)) not valid,
    add constraint ownership_assignments_created_at_in_range check (steward.instant_in_range(created_at)) not valid;
alter table steward.topics
    add constraint topics_created_at_in_range check (steward.instant_in_range(created_at)) not valid;
alter table steward.workflows
    add constraint workflows_created_at_in_range check (steward.instant_in_range(created_at)) not valid;
alter table steward.workflow_periods
    add constraint workflow_periods_active_in_range check (steward.period_in_range(active)) not valid;
alter table steward.workflow_updates
    add constraint workflow_updates_occurred_at_in_range check (steward.instant_in_range(occurred_at)) not valid,
    add constraint workflow_updates_created_at_in_range check (steward.instant_in_range(created_at)) not valid;
alter table steward.performance_reviews
    add constraint performance_reviews_reviewed_at_in_range check (steward.instant_in_range(reviewed_at)) not valid,
    add constraint performance_reviews_created_at_in_range check (steward.instant_in_range(created_at)) not valid;
-- One constraint for the four columns: validating it scans the largest table once.
alter table steward.conversations
    add constraint conversations_instants_in_range check (
        steward.instant_in_range(started_at) and steward.instant_in_range(resolved_at)
        and steward.instant_in_range(reopened_at) and steward.instant_in_range(ingested_at)) not valid;
alter table steward.conversation_daily
    add constraint conversation_daily_day_in_range check (steward.day_in_range(day)) not valid;
alter table steward.conversation_topic_daily
    add constraint conversation_topic_daily_day_in_range check (steward.day_in_range(day)) not valid;
alter table steward.api_tokens
    add constraint api_tokens_created_at_in_range check (steward.instant_in_range(created_at)) not valid,
    add constraint api_tokens_revoked_at_in_range check (steward.instant_in_range(revoked_at)) not valid;
alter table steward.ownership_changes
    add constraint ownership_changes_effective_at_in_range check (steward.instant_in_range(effective_at)) not valid,
    add constraint ownership_changes_recorded_at_in_range check (steward.instant_in_range(recorded_at)) not valid;
alter table steward.idempotency_keys
    add constraint idempotency_keys_created_at_in_range check (steward.instant_in_range(created_at)) not valid;

do $$
declare
    c record;
begin
    for c in
        select conrelid::regclass as tab, conname from pg_constraint
        where connamespace = 'steward'::regnamespace and conname like '%\_in\_range' and not convalidated
        order by conrelid::regclass::text, conname
    loop
        begin
            execute format('alter table %s validate constraint %I', c.tab, c.conname);
        exception when check_violation then
            raise warning 'constraint % on % left NOT VALID: the table holds values outside the supported '
                          'range; new and updated rows are checked (see sql/migrations/0007_finite_instants.sql)',
                          c.conname, c.tab;
        end;
    end loop;
end $$;
