-- Citus-ready tenancy (issue 16, item 3): every unique key and every foreign key of a tenant
-- table includes org_id, the column the table would be distributed by, so the schema can be
-- handed to `create_distributed_table(…, 'org_id')` as it is (docs/scale-out.md). The rules are
-- read from the catalog by tests/sql/test_citus_ready.py.
--
-- 1. `unique (id)` next to `primary key (org_id, id)`. Nothing depends on them: every foreign key
--    references (org_id, id), no statement has `on conflict (id)`, and the service's lookups by id
--    run under row-level security, which adds `org_id = steward.current_org_id()`, so the primary
--    key serves them (EXPLAIN of the node and dataloader lookups before and after: docs/scale-out.md).
--    Identity values stay unique by generation (`generated always`: no caller picks an id).
--    The webhook worker (steward_webhook_worker) is the one reader that sees every organization and
--    looks rows up by id alone (service/events/webhook_worker.sql: settle, succeeded, failed): a
--    plain index on (id) keeps those lookups probes. A plain index is allowed on a distributed
--    table (only unique ones must include the distribution column).
alter table steward.persons drop constraint persons_id_key;
alter table steward.deployments drop constraint deployments_id_key;
alter table steward.ownership_assignments drop constraint ownership_assignments_id_key;
alter table steward.topics drop constraint topics_id_key;
alter table steward.workflows drop constraint workflows_id_key;
alter table steward.workflow_updates drop constraint workflow_updates_id_key;
alter table steward.performance_reviews drop constraint performance_reviews_id_key;
alter table steward.ownership_changes drop constraint ownership_changes_id_key;
alter table steward.health_events drop constraint health_events_id_key;
alter table steward.webhook_attempts drop constraint webhook_attempts_id_key;
alter table steward.webhooks drop constraint webhooks_id_key;
alter table steward.webhook_deliveries drop constraint webhook_deliveries_id_key;
create index webhooks_id on steward.webhooks (id);
create index webhook_deliveries_id on steward.webhook_deliveries (id);

-- 2. A delivery's message_id (the `webhook-id` header) is random (gen_random_uuid); it stays
--    unique within its organization, where the endpoints that receive it live.
alter table steward.webhook_deliveries drop constraint webhook_deliveries_message_id_key;
alter table steward.webhook_deliveries add constraint webhook_deliveries_org_id_message_id_key
    unique (org_id, message_id);

-- 3. ON DELETE SET NULL on a foreign key that includes org_id: Citus refuses it even with a column
--    list (`set null (token_id)` sets only token_id, but Citus checks the action, not the list;
--    src/backend/distributed/commands/foreign_constraint.c, EnsureSupportedFKeyOnDistKey). Tokens
--    and persons are never deleted (tokens are revoked, persons deactivated; both go only with
--    their organization, in the same statement as the rows that reference them), so NO ACTION keeps
--    every path the service has; deleting a token that signed audit rows or acknowledgements by
--    hand is now refused instead of blanking who did it. The check is deferred to commit: an
--    organization's purge deletes both sides, but an acknowledgement goes three cascades down
--    (organization, deployment, health event) and a token one, so a check at the end of the
--    statement's first cascades would still see it.
alter table steward.ownership_changes drop constraint ownership_changes_org_id_token_id_fkey;
alter table steward.ownership_changes add constraint ownership_changes_org_id_token_id_fkey
    foreign key (org_id, token_id) references steward.api_tokens (org_id, id)
    deferrable initially deferred;
alter table steward.health_event_acknowledgements drop constraint health_event_acknowledgements_org_id_token_id_fkey;
alter table steward.health_event_acknowledgements add constraint health_event_acknowledgements_org_id_token_id_fkey
    foreign key (org_id, token_id) references steward.api_tokens (org_id, id)
    deferrable initially deferred;
alter table steward.deployments drop constraint deployments_escalation_person_fkey;
alter table steward.deployments add constraint deployments_escalation_person_fkey
    foreign key (org_id, escalation_person_id) references steward.persons (org_id, id)
    deferrable initially deferred;
