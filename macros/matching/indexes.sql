{#-
    Post-hook: an index on a matching table where later joins and lookups pay for it.
    Postgres only; other warehouses get no statement.
-#}
{% macro create_matching_index(relation, columns) -%}
    {{ return(adapter.dispatch('create_matching_index', 'customer_sync')(relation, columns)) }}
{%- endmacro %}

{% macro default__create_matching_index(relation, columns) -%}
    select 1
{%- endmacro %}

{% macro postgres__create_matching_index(relation, columns) -%}
    create index if not exists {{ relation.identifier }}__{{ columns | join('__') }}__idx
    on {{ relation }} ({{ columns | join(', ') }})
{%- endmacro %}


{#-
    Post-hook: a unique index on a table's grain (`columns`). Postgres then refuses a duplicate on
    every write (a build fails with the duplicated key instead of building it), and the
    unique_combination_of_columns test need not sort the table (unique_key_is_enforced). Created once
    per table: an incremental build finds it in place. Other warehouses get no statement.
-#}
{% macro create_unique_key_index(relation, columns) -%}
    {{ return(adapter.dispatch('create_unique_key_index', 'customer_sync')(relation, columns)) }}
{%- endmacro %}

{% macro default__create_unique_key_index(relation, columns) -%}
    select 1
{%- endmacro %}

{% macro postgres__create_unique_key_index(relation, columns) -%}
    {%- set name = relation.identifier ~ '__' ~ (columns | join('__')) ~ '__key' -%}
    {#- found in the catalog: no statement that would take a lock on the table -#}
    {%- set found = run_query(
        "select 1 from pg_catalog.pg_indexes where schemaname = '" ~ relation.schema
        ~ "' and tablename = '" ~ relation.identifier ~ "' and indexname = '" ~ name ~ "'"
    ) if execute else none -%}
    {%- if found is not none and found.rows | length > 0 -%}
    select 1
    {%- else -%}
    create unique index if not exists {{ name }}
    on {{ relation }} ({{ columns | join(', ') }})
    {%- endif -%}
{%- endmacro %}
