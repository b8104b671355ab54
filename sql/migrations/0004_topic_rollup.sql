-- Daily rollup per deployment and topic, maintained with conversation_daily
-- (internals.refresh_conversation_daily): topic opportunities read it instead
-- of classifying every conversation of the window again.
create table steward.conversation_topic_daily (
    org_id                  bigint not null,
    deployment_id           bigint not null,
    day                     date not null,
    topic_id                bigint not null,
    conversations           integer not null,
    addressable             integer not null,
    ai_engaged              integer not null,
    ai_outcomes             integer not null,
    ai_resolved             integer not null,
    reopened                integer not null,
    escalated               integer not null,
    unaddressable_escalated integer not null,
    primary key (org_id, deployment_id, day, topic_id),
    foreign key (org_id, deployment_id) references steward.deployments (org_id, id) on delete cascade,
    foreign key (org_id, topic_id) references steward.topics (org_id, id) on delete cascade
);

alter table steward.conversation_topic_daily enable row level security;
alter table steward.conversation_topic_daily force row level security;
create policy tenant_isolation on steward.conversation_topic_daily using (org_id = steward.current_org_id());
grant select, insert, delete on steward.conversation_topic_daily to steward_app;
grant select on steward.conversation_topic_daily to bi_reader;

-- Organization-wide weekly passes (ownership impact) scan days across deployments.
create index conversation_daily_org_day on steward.conversation_daily (org_id, day);
-- Existing conversations are rolled up by `steward migrate`, which refreshes
-- the rollups whenever sql/views/010_facts.sql changes (as it does with this table).
