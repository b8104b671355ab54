-- The owner's weekly review (issue 13): whose reviews count, and which brief a review covered.
--
-- * health_policies.reviewers_counted: whose performance reviews count for health and
--   weeks reviewed (sql/views/015_reviews.sql, metrics.reviews):
--     OWNER        the deployment's accountable owner at the instant of the review (the default);
--     OWNER_OR_CX  the owner, or anyone whose function is CX;
--     ANYONE       every review, as before this migration.
-- * performance_reviews.brief_week: the Monday of the ISO week whose brief
--   (metrics.weekly_brief) the review covered; null when the review named none.
--
-- The other limits the review reads are already in the policy: stale_update_days (a workflow
-- not changed for that long is stale), arr_drop_points (a topic's ARR fell), escalation_after_days
-- (an alert acknowledged within it was acknowledged in time; maturity duty 5).
alter table steward.health_policies
    add column reviewers_counted text not null default 'OWNER'
        check (reviewers_counted in ('OWNER', 'OWNER_OR_CX', 'ANYONE'));
comment on column steward.health_policies.reviewers_counted is
    'Whose reviews count for health and weeks reviewed: OWNER (the accountable owner at the time), '
    'OWNER_OR_CX (the owner or anyone in CX), ANYONE.';

alter table steward.performance_reviews
    add column brief_week date
        constraint performance_reviews_brief_week_in_range check (steward.day_in_range(brief_week))
        constraint performance_reviews_brief_week_monday check (extract(isodow from brief_week) = 1);
comment on column steward.performance_reviews.brief_week is
    'Monday (UTC) of the ISO week whose weekly brief the review covered; null: none named.';
