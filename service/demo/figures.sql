-- The reference figures of the demo (service/demo/figures.py), read from the metric views for today;
-- run as the database owner by `steward demo`.

-- name: reference_figures
-- One row: the figures of the three reference deployments, and the owners' FTE range of the organizations $1 (slugs).
with d as (
    select dep.id, dep.key, o.slug, (dep.launched_at at time zone 'UTC')::date as launched,
           (select (min(lower(oa.valid)) at time zone 'UTC')::date from steward.ownership_assignments oa
             where oa.org_id = dep.org_id and oa.deployment_id = dep.id) as first_owned
    from steward.deployments dep join steward.organizations o on o.id = dep.org_id
    where (o.slug, dep.key) in (('lumen-beauty', 'concierge'), ('harbor-home', 'assistant'),
                                ('northwind-outfitters', 'helpdesk'))
), today as (select (steward.clock() at time zone 'UTC')::date as t)
select
    (select t from today) as today,
    (select reopen_window_hours from d, today, metrics.deployment_window(array[d.id], t - 27, t + 1)
      where d.slug = 'harbor-home') as reopen_window_hours,
    lumen.workflow_updates as lumen_updates_30d,
    lumen.peak_week_updates as lumen_peak_week,
    harbor.addressable_resolution_rate as harbor_arr_4w,
    harbor.ai_resolved as harbor_ai_resolved_4w,
    harbor.addressable as harbor_addressable_4w,
    unowned.min_arr as northwind_weekly_arr_min,
    unowned.max_arr as northwind_weekly_arr_max,
    unowned.weeks as northwind_unowned_weeks,
    northwind.addressable_resolution_rate as northwind_arr_4w,
    northwind.first_owned_days_ago as northwind_owner_days,
    owners.min_fte as owner_fte_min,
    owners.max_fte as owner_fte_max,
    owners.outside_cx as owners_outside_cx
from today
cross join lateral (
    select m.* from d, metrics.deployment_window(array[d.id], t - 29, t + 1) m where d.slug = 'lumen-beauty'
) lumen
cross join lateral (
    select m.* from d, metrics.deployment_window(array[d.id], t - 27, t + 1) m where d.slug = 'harbor-home'
) harbor
cross join lateral (
    select m.addressable_resolution_rate, t - d.first_owned as first_owned_days_ago
    from d, metrics.deployment_window(array[d.id], t - 27, t + 1) m where d.slug = 'northwind-outfitters'
) northwind
cross join lateral (
    -- every complete ISO week between launch and the day an owner was first named
    select min(m.addressable_resolution_rate) as min_arr, max(m.addressable_resolution_rate) as max_arr,
           count(*) as weeks
    from d, metrics.deployment_weeks(array[d.id], d.launched, d.first_owned) m
    where d.slug = 'northwind-outfitters' and m.window_from >= d.launched and m.window_to <= d.first_owned
) unowned
cross join lateral (
    select min(c.fte_on_ai) as min_fte, max(c.fte_on_ai) as max_fte,
           count(*) filter (where c.person_function <> 'CX') as outside_cx
    from metrics.current_owners c join steward.organizations o on o.id = c.org_id
    where o.slug = any($1::text[])
) owners;
