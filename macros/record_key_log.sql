{#-
    The record key log (`identity.record_key_log`): which record ids left an identity table, and when.

    A model keyed by record_id deletes its rows whose record is no longer in the table it reads
    (delete_rows_no_longer_in; int_customer_pairs the pairs of either end: delete_pairs_to_pair_again).
    Found by an anti-join, that read both tables whole at every build: at 100k persons 0.3-0.9 s each
    for int_customer_records, int_customer_blocking_keys, int_customer_pairs and
    int_customer_components, one after another on the longest chain of a 1% build, to find the few
    hundred records it deletes. The tables they read (int_customer_entered_records,
    int_customer_records) log every record id they delete, and a reader takes the ids logged since it
    last compared, each checked against the table (a record may be back).

    Events: `deleted` (record_id left the table `model`); `complete_since` (from logged_at on, every
    record id that leaves `model` is logged: written when the table is built whole, the first time it
    logs, and when old events are pruned); `compared` (the reader `model` had deleted, as of
    logged_at, every row whose record was gone from the table it reads). A reader falls back to the
    anti-join when it has not compared since the table's complete_since: after a --full-refresh of the
    table, on a warehouse built before the log, or after var('record_key_log_days') without a build.
-#}


{#- The log's relation, in the identity schema (with the schema prefix). -#}
{% macro record_key_log() -%}
    {{ return(api.Relation.create(
        database=target.database, schema=generate_schema_name('identity', none), identifier='record_key_log'
    )) }}
{%- endmacro %}


{#- on-run-start: the log, created when missing (Postgres only: other warehouses run a no-op). -#}
{% macro create_record_key_log() -%}
    {{ return(adapter.dispatch('create_record_key_log', 'customer_sync')()) }}
{%- endmacro %}

{% macro default__create_record_key_log() -%}
    select 1
{%- endmacro %}

{% macro postgres__create_record_key_log() -%}
    {%- set log = record_key_log() -%}
    create schema if not exists {{ adapter.quote(log.schema) }};
    create table if not exists {{ log }} (
        model text not null,
        event text not null check (event in ('deleted', 'complete_since', 'compared')),
        record_id text,
        logged_at timestamp with time zone not null
    );
    create index if not exists record_key_log__model__event__logged_at__idx
    on {{ log }} (model, event, logged_at)
{%- endmacro %}


{#- Whether `relation` logs the record ids it deletes: the tables of live records that the identity
    models read whole (Postgres only). -#}
{% macro logs_record_keys(relation) -%}
    {%- set logging = ['int_customer_entered_records', 'int_customer_records'] -%}
    {{ return(target.type == 'postgres' and relation.identifier in logging) }}
{%- endmacro %}


{#- Post-hook statements of a logging table: delete the rows of the record ids `gone_records` selects and
    log each id; then keep the log's bounds (below). A table built whole logs nothing and is complete
    from now on. -#}
{% macro delete_and_log_record_ids(gone_records) -%}
    {%- set log = record_key_log() -%}
    {%- if is_incremental() %}
    with deleted as (
        {{ delete_rows_with_keys('record_id', gone_records) }}
        returning record_id
    )
    insert into {{ log }} (model, event, record_id, logged_at)
    select distinct '{{ this.identifier }}', 'deleted', deleted.record_id, now()
    from deleted;
    {%- else %}
    delete from {{ log }} where model = '{{ this.identifier }}' and event in ('deleted', 'complete_since');
    {%- endif %}
    {{ record_key_log_bounds() }}
{%- endmacro %}


{#- The log of this table stays complete and short: its events older than var('record_key_log_days') go,
    and the log is then complete since that horizon at the earliest; a table with no complete_since yet
    (built whole, or before the log) is complete from now. -#}
{% macro record_key_log_bounds() -%}
    {%- set log = record_key_log() -%}
    {%- set horizon = "now() - interval '" ~ var('record_key_log_days') ~ " days'" -%}
    with pruned as (
        delete from {{ log }}
        where model = '{{ this.identifier }}' and logged_at < {{ horizon }}
        returning event
    )
    insert into {{ log }} (model, event, record_id, logged_at)
    select '{{ this.identifier }}', 'complete_since', null, {{ horizon }}
    where exists (select 1 from pruned where pruned.event = 'complete_since');
    insert into {{ log }} (model, event, record_id, logged_at)
    select '{{ this.identifier }}', 'complete_since', null, now()
    where not exists (
        select 1 from {{ log }} where model = '{{ this.identifier }}' and event = 'complete_since'
    )
{%- endmacro %}


{#- The record ids of this table's rows that are no longer in `relation`, a logging table: those it logged
    since this table last compared and still lacks; none when the log cannot say (`none` returned). -#}
{% macro record_ids_gone_by_log(relation) -%}
    {%- set log = record_key_log() -%}
    {#- the reader's last comparison, read once, and whether the table's log is complete since then -#}
    {%- set bounds = run_query(
        "select compared.through::text, compared.through >= complete.since from"
        ~ " (select max(logged_at) as through from " ~ log ~ " where model = '" ~ this.identifier
        ~ "' and event = 'compared') as compared,"
        ~ " (select max(logged_at) as since from " ~ log ~ " where model = '" ~ relation.identifier
        ~ "' and event = 'complete_since') as complete"
    ) if execute else none -%}
    {%- if bounds is none or not bounds.rows[0][1] -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set gone -%}
    {{ record_ids_logged_gone(relation, "'" ~ bounds.rows[0][0] ~ "'::timestamptz") }}
        and not exists (select 1 from {{ relation }} as live where live.record_id = logged.record_id)
    {%- endset -%}
    {{ return(gone) }}
{%- endmacro %}


{#- The record ids the log says left `relation` (a logging table) at or after `since` (a SQL timestamp),
    as `logged.record_id`; a caller may add conditions on `logged` with `and`. -#}
{% macro record_ids_logged_gone(relation, since) -%}
    select logged.record_id
    from {{ record_key_log() }} as logged
    where
        logged.model = '{{ relation.identifier }}'
        and logged.event = 'deleted'
        and logged.logged_at >= {{ since }}
{%- endmacro %}


{#- A reader's mark: every row whose record left the logging table it reads is deleted as of now. -#}
{% macro record_key_log_compared() -%}
    {%- set log = record_key_log() -%}
    delete from {{ log }} where model = '{{ this.identifier }}' and event = 'compared';
    insert into {{ log }} (model, event, record_id, logged_at)
    values ('{{ this.identifier }}', 'compared', null, now())
{%- endmacro %}
