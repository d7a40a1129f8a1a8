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
