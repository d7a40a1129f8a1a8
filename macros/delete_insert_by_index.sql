{#-
    dbt's delete+insert for Postgres, with the replaced rows found by the table's index. dbt deletes
    `where (key) in (select distinct key from <new rows>)`, which the planner can run as a hash join
    over the whole table (upsert_changed_rows' delete did: all 3.4 million rows of
    sync_field_comparisons for 6,800 records). With a single-column key that leads an index of the
    table, the keys are passed as one array
    instead (`key = any(array(…))`), which the planner reads through that index. Without such an index
    `= any` would search the array once per row of the table, so dbt's statement stays. A key of
    several columns whose first leads an index (a unique key's index on the pair's two records) finds
    its candidate rows the same way, by the first column, and keeps dbt's condition on all of them: the
    8,500 pairs a 1% build scores again at 100k persons were deleted in 51 ms instead of 181 ms, a scan of
    all 337,000. Otherwise the statements are dbt's (dbt-adapters 1.x, default__get_delete_insert_merge_sql).

    A build that replaces most of the table (more new rows than var('rewrite_min_share') of the
    table's) rewrites it instead (rewrite_table_with_rows): deleting and inserting every row of
    int_customer_pair_scores took 8.3 s at 100k persons, where the table built whole took 1.2-1.7 s.
-#}
{% macro postgres__get_delete_insert_merge_sql(target, source, unique_key, dest_columns, incremental_predicates) -%}
    {%- set keys = ([unique_key] if unique_key is string else unique_key) if unique_key else [] -%}
    {%- set dest_cols_csv = get_quoted_csv(dest_columns | map(attribute="name")) -%}
    {%- if keys and not incremental_predicates and replaces_most_rows(target, source) -%}
    {{ rewrite_table_with_rows(target, source, keys, dest_cols_csv) }}
    {%- else -%}
    {%- if keys -%}
        {%- set key_list = keys | join(', ') %}
    delete from {{ target }} as DBT_INTERNAL_DEST
    where
        {%- if index_leads_with(target, keys[0]) %}
        {{ keys[0] }} = any(array(select distinct {{ keys[0] }} from {{ source }}))
        {%- if keys | length > 1 %}
        and ({{ key_list }}) in (select distinct {{ key_list }} from {{ source }} as DBT_INTERNAL_SOURCE)
        {%- endif %}
        {%- else %}
        ({{ key_list }}) in (select distinct {{ key_list }} from {{ source }} as DBT_INTERNAL_SOURCE)
        {%- endif %}
        {%- for predicate in incremental_predicates or [] %}
        and {{ predicate }}
        {%- endfor %};
    {% endif %}
    insert into {{ target }} ({{ dest_cols_csv }})
    (
        select {{ dest_cols_csv }}
        from {{ source }}
    )
    {%- endif -%}
{%- endmacro %}


{#- Whether the new rows (`source`) outnumber var('rewrite_min_share') of the rows of `target` (its
    planner estimate, or its count when it has none); 0 turns rewriting off. -#}
{% macro replaces_most_rows(target, source) -%}
    {%- set share = var('rewrite_min_share', 0.5) | float -%}
    {%- if not execute or share <= 0 -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set found = run_query(
        "select (select count(*) from " ~ source ~ ") > " ~ share ~ " * (select case when reltuples >= 0"
        ~ " then reltuples else (select count(*) from " ~ target ~ ") end from pg_catalog.pg_class"
        ~ " where oid = to_regclass('" ~ target.include(database=false) ~ "'))"
    ) -%}
    {{ return(found.rows[0][0] is true) }}
{%- endmacro %}


{#- Replace the rows of `target` that `source` has a key (`keys`) of by the source's, as delete+insert
    does, by rewriting the table: the rows it keeps are copied aside, the table is emptied (truncate:
    no dead row versions for vacuum, no index entries of the old rows), its indexes other than a
    constraint's are dropped, the kept and the new rows are inserted, and the indexes are created again
    as they were (pg_indexes' definitions), each in one pass over the rows instead of one entry per row.
    Truncate locks the table against readers until the build commits, as the swap of a table model
    does at its end. -#}
{% macro rewrite_table_with_rows(target, source, keys, columns_csv) -%}
    {%- set kept = make_temp_relation(target, '__dbt_kept') -%}
    {%- set indexes = run_query(
        "select indexname, indexdef from pg_catalog.pg_indexes as listed where schemaname = '"
        ~ target.schema ~ "' and tablename = '" ~ target.identifier ~ "' and not exists (select 1 from"
        ~ " pg_catalog.pg_constraint as owning where owning.conindid = (quote_ident(listed.schemaname)"
        ~ " || '.' || quote_ident(listed.indexname))::regclass)"
    ) -%}
    create temporary table {{ kept }} on commit drop as
    select {{ columns_csv }}
    from {{ target }} as built
    where not exists (
        select 1
        from {{ source }} as fresh
        where
            {%- for key in keys %}
            fresh.{{ key }} = built.{{ key }}{{ ' and' if not loop.last }}
            {%- endfor %}
    );
    truncate {{ target }};
    {%- for index in indexes.rows %}
    drop index {{ adapter.quote(target.schema) }}.{{ adapter.quote(index[0]) }};
    {%- endfor %}
    insert into {{ target }} ({{ columns_csv }})
    select {{ columns_csv }} from {{ kept }}
    union all
    select {{ columns_csv }} from {{ source }}
    {%- for index in indexes.rows %};
    {{ index[1] }}
    {%- endfor %}
{%- endmacro %}


{#- Whether a valid index of `relation` has `column` as its first key column (read from the catalog). -#}
{% macro index_leads_with(relation, column) -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set found = run_query(
        "select 1 from pg_catalog.pg_index as i"
        ~ " join pg_catalog.pg_attribute as a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]"
        ~ " where i.indrelid = to_regclass('" ~ relation.include(database=false) ~ "')"
        ~ " and i.indisvalid and i.indpred is null and a.attname = '" ~ column ~ "' limit 1"
    ) -%}
    {{ return(found.rows | length > 0) }}
{%- endmacro %}
