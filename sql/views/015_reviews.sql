-- Reviews that count, the health policy as readers see it, and the interval arithmetic
-- the weekly review uses (sql/views/035_weekly_review.sql).

-- --- intervals ---------------------------------------------------------------------------------
-- z for a two-sided 95% interval: the 0.975 quantile of the standard normal.
create function internals.z95() returns double precision
language sql immutable parallel safe
as $$ select 1.959963984540054::double precision $$;

-- Wilson score interval (95%) of a proportion x / n: null when n = 0. Unlike the normal
-- approximation it stays inside [0, 1] and is sensible at 0 of n and n of n.
--   centre = (p + z²/2n) / (1 + z²/n),  half = z √(p(1-p)/n + z²/4n²) / (1 + z²/n)
create function internals.wilson_low(x numeric, n numeric) returns double precision
language sql immutable parallel safe
begin atomic
    select case when n > 0 then
        greatest(0, ((x / n)::double precision + internals.z95() ^ 2 / (2 * n)
                     - internals.z95() * sqrt((x / n)::double precision * (1 - (x / n)::double precision) / n
                                              + internals.z95() ^ 2 / (4 * n ^ 2)))
                    / (1 + internals.z95() ^ 2 / n)) end;
end;

create function internals.wilson_high(x numeric, n numeric) returns double precision
language sql immutable parallel safe
begin atomic
    select case when n > 0 then
        least(1, ((x / n)::double precision + internals.z95() ^ 2 / (2 * n)
                  + internals.z95() * sqrt((x / n)::double precision * (1 - (x / n)::double precision) / n
                                           + internals.z95() ^ 2 / (4 * n ^ 2)))
                 / (1 + internals.z95() ^ 2 / n)) end;
end;

-- Score interval (95%) of a Poisson rate: x events over an exposure of t (weeks), the
-- counterpart of Wilson's interval for a count: (x + z²/2 ± z √(x + z²/4)) / t; null when t = 0.
create function internals.poisson_low(x numeric, t numeric) returns double precision
language sql immutable parallel safe
begin atomic
    select case when t > 0 then
        greatest(0, (x + internals.z95() ^ 2 / 2 - internals.z95() * sqrt(x + internals.z95() ^ 2 / 4)) / t) end;
end;

create function internals.poisson_high(x numeric, t numeric) returns double precision
language sql immutable parallel safe
begin atomic
    select case when t > 0 then
        (x + internals.z95() ^ 2 / 2 + internals.z95() * sqrt(x + internals.z95() ^ 2 / 4)) / t end;
end;

-- The 0.975 quantile of Student's t with `df` degrees of freedom (a two-sided 95% interval):
-- the exact value (to 6 decimals) for df 1..30, then the Cornish-Fisher expansion of t around
-- the normal quantile z to the 1/df³ term, whose error there is below 1e-5 (and falls with df);
-- null for df < 1.
create function internals.t975(df integer) returns double precision
language sql immutable parallel safe
begin atomic
    select case
        when df < 1 then null
        when df <= 30 then (array[12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004,
                                  2.262157, 2.228139, 2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905,
                                  2.109816, 2.100922, 2.093024, 2.085963, 2.079614, 2.073873, 2.068658, 2.063899,
                                  2.059539, 2.055529, 2.051831, 2.048407, 2.045230, 2.042272])[df]::double precision
        else z + (z ^ 3 + z) / (4 * df)
               + (5 * z ^ 5 + 16 * z ^ 3 + 3 * z) / (96 * df ^ 2)
               + (3 * z ^ 7 + 19 * z ^ 5 + 17 * z ^ 3 - 15 * z) / (384 * df ^ 3)
    end
    from (select internals.z95() as z) c;
end;

-- --- reviews that count --------------------------------------------------------------------------
-- Every performance review, with whether it counts under the organization's policy
-- (health_policies.reviewers_counted). The single definition: metrics.deployment_window
-- (weeks reviewed, days since the last review), metrics.health (NO_RECENT_REVIEW,
-- REVIEW_OVERDUE) and the weekly review read `counted` from here.
--   reviewer_was_owner: the reviewer held an ownership period of the deployment at the
--     instant of the review, cut short where the person was deactivated (as for gaps,
--     sql/views/025_ownership_gaps.sql);
--   counted: OWNER: reviewer_was_owner; OWNER_OR_CX: that, or the reviewer's function is CX
--     (the function the person has now: functions keep no history); ANYONE: always.
create view metrics.reviews with (security_invoker = true) as
select
    pr.org_id,
    pr.id as review_id,
    pr.deployment_id,
    pr.reviewer_id,
    p.name as reviewer_name,
    p.function as reviewer_function,
    pr.reviewed_at,
    pr.brief_week,
    oa.id is not null as reviewer_was_owner,
    pol.reviewers_counted,
    case pol.reviewers_counted
        when 'ANYONE' then true
        when 'OWNER_OR_CX' then oa.id is not null or p.function = 'CX'
        else oa.id is not null
    end as counted
from steward.performance_reviews pr
join steward.persons p on p.org_id = pr.org_id and p.id = pr.reviewer_id
join steward.health_policies pol on pol.org_id = pr.org_id
-- a join, not a subquery per review, so that a scan of many reviews can hash it: at most one
-- period matches, the periods of a deployment never overlapping (one_accountable_owner)
left join steward.ownership_assignments oa
  on oa.org_id = pr.org_id and oa.deployment_id = pr.deployment_id and oa.person_id = pr.reviewer_id
 and oa.valid @> pr.reviewed_at
 and (p.deactivated_at is null or pr.reviewed_at < p.deactivated_at);

-- --- the policy ------------------------------------------------------------------------------------
-- The organization's health policy as the API (Organization.healthPolicy) and BI read it.
create view metrics.health_policy with (security_invoker = true) as
select
    pol.org_id,
    (extract(epoch from pol.reopen_window) / 3600)::integer as reopen_window_hours,
    pol.stale_update_days,
    pol.stale_review_days,
    pol.review_due_days,
    pol.min_owner_fte,
    pol.arr_drop_points,
    pol.arr_decay_points,
    pol.escalation_after_days,
    pol.reviewers_counted,
    pol.updated_at
from steward.health_policies pol;

-- The Monday (UTC) of the last complete ISO week: the week a weekly brief defaults to.
create function metrics.last_complete_week() returns date
language sql stable
begin atomic
    select (date_trunc('week', steward.clock() at time zone 'UTC') - interval '7 days')::date;
end;

comment on function internals.wilson_low(numeric, numeric) is 'Lower end of the 95% Wilson score interval of x / n.';
comment on function internals.wilson_high(numeric, numeric) is 'Upper end of the 95% Wilson score interval of x / n.';
comment on function internals.poisson_low(numeric, numeric) is
    'Lower end of the 95% score interval of a Poisson rate: x events over exposure t.';
comment on function internals.poisson_high(numeric, numeric) is
    'Upper end of the 95% score interval of a Poisson rate: x events over exposure t.';
comment on function internals.t975(integer) is
    'The 0.975 quantile of Student''s t with df degrees of freedom (table to 30, Cornish-Fisher beyond).';
comment on function metrics.last_complete_week() is
    'Monday (UTC) of the last complete ISO week as of steward.clock(): the default week of a weekly brief.';
