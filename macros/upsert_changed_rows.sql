{#-
    Incremental strategy `upsert_changed_rows`: like delete+insert, a build replaces every row of the
    keys (`unique_key`) it computed again, but it writes only the rows that differ. A model with several
    rows per key (sync_field_comparisons: one per record and field) recomputes all of a changed key's
    rows, while most of them come out as they were: a customer whose phone changed changes the phone
    row of each of its records, not the other seventeen fields. Rewriting the unchanged rows made each
    a new tuple with new index entries: the delete+insert of about 100,000 rows of a 3.5-million-row
    table took 2.7-5.8 s of a 1% build at 100k persons. Timed against delete+insert on the same
    warehouse (docs/benchmarks-history.md, stop 25), it takes the same time and writes less than half the rows
    (fewer dead rows for vacuum); upsert_max_share 0 turns it off.

    The model's config names its grain, `row_key_columns` (one row per those columns, a unique index on
    them: create_unique_key_index, made here first if a build after a --full-refresh has none yet).
    A build then:
      1. deletes the built rows of the replaced keys that the new rows do not have (by grain);
      2. inserts the new rows, and where a row of that grain is built, updates it only when a column
         differs (`on conflict ... do update ... where ... is distinct from ...`): an equal row is left
         untouched, without a new row version.
    The table ends as delete+insert would leave it. A build that computed more rows again than
    var('upsert_max_share') of the table's (half: after a change of its SQL, or a cycle that re-landed
    most records) writes them by delete+insert, which costs less than a conflict check per row then
    (3.4 million rows at 100k persons: 38 s by upsert). Postgres only.
-#}
{% macro get_incremental_upsert_changed_rows_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set unique_key = arg_dict['unique_key'] -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- set grain = config.get('row_key_columns') -%}
    {%- if not keys or not grain -%}
        {{ exceptions.raise_compiler_error(
            "upsert_changed_rows needs a unique_key and row_key_columns (the grain) in the model's config"
        ) }}
    {%- endif -%}
    {#- a build that computed much of the table again (its SQL changed, or most records were re-landed)
        has most rows to write anyway: delete+insert writes them without a conflict check each -#}
    {%- set most = run_query(
        "select coalesce((select count(*) from " ~ source ~ ") > " ~ var('upsert_max_share', 0.5)
        ~ " * (select reltuples from pg_catalog.pg_class where oid = to_regclass('"
        ~ target.schema ~ "." ~ target.identifier ~ "')), true)"
    ) -%}
    {%- if most.rows[0][0] -%}
        {{ return(get_incremental_delete_insert_sql(arg_dict)) }}
    {%- endif -%}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='name') | list -%}
    {%- set updated = columns | reject('in', grain) | list -%}
    {%- set columns_csv = get_quoted_csv(columns) -%}

    {{ create_unique_key_index(target, grain) }};

    delete from {{ target }} as built
    where
        {%- if keys | length == 1 and keys[0] == grain[0] %}
        {#- the replaced keys as one array: `= any` of it finds their rows by the grain's unique index,
            which leads with the key. As `in (select …)` the planner hashed them and read the whole
            table (1.0 s for 6,800 records of 3.4 million rows at 100k persons, 0.3 s so) #}
        {{ keys[0] }} = any(array(select distinct {{ keys[0] }} from {{ source }}))
        {%- else %}
        ({{ keys | join(', ') }}) in (select distinct {{ keys | join(', ') }} from {{ source }})
        {%- endif %}
        and not exists (
            select 1
            from {{ source }} as fresh
            where
                {%- for column in grain %}
                fresh.{{ column }} = built.{{ column }}{{ ' and' if not loop.last }}
                {%- endfor %}
        );

    insert into {{ target }} as built ({{ columns_csv }})
    select {{ columns_csv }}
    from {{ source }}
    on conflict ({{ grain | join(', ') }}) do update set
        {%- for column in updated %}
        {{ adapter.quote(column) }} = excluded.{{ adapter.quote(column) }}{{ ',' if not loop.last }}
        {%- endfor %}
    where
        (
            {%- for column in updated %}
            built.{{ adapter.quote(column) }}{{ ',' if not loop.last }}
            {%- endfor %}
        ) is distinct from (
            {%- for column in updated %}
            excluded.{{ adapter.quote(column) }}{{ ',' if not loop.last }}
            {%- endfor %}
        )
{%- endmacro %}


{#-
    Pre-hook: drop the not-null constraint of `column` of a built table, when it has one. For a column
    whose contract no longer has it: dbt applies a contract's constraints when it creates the table,
    and an incremental build keeps the table. No statement once the column is nullable.
-#}
{% macro drop_not_null_if_set(relation, column) -%}
    {%- set found = run_query(
        "select 1 from pg_catalog.pg_attribute where attrelid = to_regclass('"
        ~ relation.schema ~ "." ~ relation.identifier ~ "') and attname = '" ~ column ~ "' and attnotnull"
    ) if execute and is_incremental() else none -%}
    {%- if found is not none and found.rows | length > 0 -%}
    alter table {{ relation }} alter column {{ column }} drop not null
    {%- else -%}
    {#- no statement -#}
    {%- endif -%}
{%- endmacro %}
