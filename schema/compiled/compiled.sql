-- Fragments of compiled GraphQL reads (schema/compiled): each is an expression, not a statement.
-- `$n` are the fragment's own arguments (the compiler substitutes expressions or statement parameters);
-- `{{row}}` is the alias the fragment gives its row, `{{parent}}` the alias of the parent's row,
-- `{{json}}` the JSON of the selection on `{{row}}`, `{{items}}` a list's element order.

-- name: global_id
-- schema/relay.py to_global_id: standard padded base64 of `Type:number`, no line breaks.
to_json(translate(encode(convert_to($1::text || ':' || $2::text, 'UTF8'), 'base64'), chr(10), ''))

-- name: instant
-- The DateTime scalar's isoformat(): microseconds only when not zero, always six digits, UTC offset.
to_json(to_char(($1) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
        || case when extract(microseconds from ($1))::bigint % 1000000 <> 0
                then to_char(($1) at time zone 'UTC', '.US') else '' end || '+00:00')

-- name: instant_text
-- The same, as text (a cursor's sort value).
to_char(($1) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
|| case when extract(microseconds from ($1))::bigint % 1000000 <> 0 then to_char(($1) at time zone 'UTC', '.US')
        else '' end || '+00:00'

-- name: json_ascii
-- Python's json.dumps of a string (ensure_ascii): what schema/relay.py encode_cursor writes.
case when ($1) ~ '^[ -~]*$' then to_json($1::text)::text
     else '"' || (select string_agg(case when ascii(c) < 127 then substr(to_json(c)::text, 2, length(to_json(c)::text) - 2)
                                         when ascii(c) < 65536 then '\u' || lpad(to_hex(ascii(c)), 4, '0')
                                         else '\u' || lpad(to_hex(55296 + ((ascii(c) - 65536) >> 10)), 4, '0')
                                              || '\u' || lpad(to_hex(56320 + ((ascii(c) - 65536) & 1023)), 4, '0')
                                    end, '' order by i)
                    from regexp_split_to_table($1::text, '') with ordinality as s(c, i)) || '"' end

-- name: cursor
-- schema/relay.py encode_cursor: base64 of `[sort value as JSON, id]`.
to_json(translate(encode(convert_to('[' || ($1) || ', ' || ($2)::text || ']', 'UTF8'), 'base64'), chr(10), ''))

-- name: connection
-- A page of a paged statement ($1: its rows in its order, limit + 1 of them), as a Relay connection.
-- $2 the page size, $3 backward (last/before), $4 an `after` cursor was given, $5 a `before` cursor was given.
-- {{cursor}} is the cursor of row {{row}}, {{node}} its node columns, {{json}} the connection's selection over `e`;
-- {{batches}} the statements its nodes' nested fields read once for the whole page (`_bN as (…),`).
(with p as (select q.*, row_number() over () as _n from ($1) q), {{batches}}
      e as (select {{cursor}} as _cursor, {{node}}, {{row}}._n
              from p {{row}} where {{row}}._n <= $2)
 select {{json}})

-- name: connection_edges
(select coalesce(json_agg({{json}} order by case when $1 then e._n end desc, e._n), '[]') from e)

-- name: connection_has_more
exists (select from p where p._n > $1)

-- name: connection_end
(select e._cursor from e order by case when $1 then e._n end, e._n desc limit 1)

-- name: connection_start
(select e._cursor from e order by case when $1 then e._n end desc, e._n limit 1)

-- name: list
-- A list: the JSON of each row of $1 (a statement, in its order).
(select coalesce(json_agg({{json}} order by {{row}}._n), '[]')
   from (select q.*, row_number() over () as _n from ($1) q) {{row}})

-- name: object
-- One object: the JSON of the first row of $1 (a statement), null if none.
(select {{json}} from ($1) {{row}} limit 1)

-- name: window_start
-- The first day of a window input: $1 lastDays, $2 from (schema/windows.py resolve_window; checked before).
case when ($1)::integer is null then ($2)::date else ($3) + 1 - ($1)::integer end

-- name: window_end
case when ($1)::integer is null then ($2)::date else ($3) + 1 end

-- name: missing
-- A non-null value the resolvers would find missing: fail the statement, so the request runs through
-- Strawberry, which reports it as it always has. random() keeps the planner from folding it (with the
-- parameters bound, it would fail at planning): it fails only when reached.
to_json((('missing:' || ($1)::text || left(random()::text, 0)))::integer)

-- name: weeks_start
-- Deployment.weeklyMetrics's first day: $1 `from`, or the Monday $2 weeks before this week's ($3 today).
case when ($1)::date is null then date_trunc('week', $3)::date - 7 * ($2)::integer else ($1)::date end

-- name: reasons
-- Health reasons: the elements `v` of the jsonb array $1, in order.
(select coalesce(json_agg({{json}} order by {{row}}.i), '[]') from jsonb_array_elements($1) with ordinality {{row}}(v, i))

-- name: summary
-- OwnershipSummary's row: the window, and the overview's counts (0 without an overview row), as the resolver.
select ($2)::date as window_from, ($3)::date as window_to,
       coalesce(o.deployments, 0) as deployments, coalesce(o.unowned, 0) as unowned,
       coalesce(o.stale, 0) as stale, coalesce(o.at_risk, 0) as at_risk, coalesce(o.healthy, 0) as healthy,
       o.owned_share
  from (select) one left join ($1) o on true

-- name: buckets
-- The impact rows ($1) whose bucket is in $2, in the order of $2 (the enum's order), then the statement's.
(select coalesce(json_agg({{json}} order by array_position(($2)::text[], {{row}}.bucket), {{row}}._n), '[]')
   from (select q.*, row_number() over () as _n from ($1) q) {{row}}
  where {{row}}.bucket = any(($2)::text[]))

-- name: bucket_rate
-- The ARR of bucket $2 among the impact rows $1 (the last such row, as the resolver's dict keeps it).
(select q.addressable_resolution_rate
   from (select q.*, row_number() over () as _n from ($1) q) q where q.bucket = $2 order by q._n desc limit 1)

-- name: statement
-- The whole compiled operation: the response's `data` as JSON text.
select ({{json}})::text

-- name: summary_object
-- OwnershipSummary: the impact statement ($1) runs once, as `_impact`, for all the bucket fields.
(with _impact as ($1) select {{json}} from ($2) {{row}} limit 1)

-- name: impact_rows
select * from _impact

-- name: page_ids
-- The ids of a connection's page (the CTE `p` of `connection`, $1 its size): what a batched statement reads for.
array(select p.id from p where p._n <= $1)::bigint[]

-- name: batched
-- One parent's rows of a statement read once for the page ({{batch}}, a CTE), in the statement's order.
select * from {{batch}} where {{batch}}.{{key}} = $1

-- name: nested_count
-- The size of one parent's list, from a statement of (parent, n) rows: 0 when it has none.
coalesce((select c.n from ($1) c limit 1), 0)
