{#-
    on-run-start: drop the tables and views of models this project no longer has (var('retired_models'),
    `<layer>.<model>`), so that a warehouse built by an earlier version keeps no stale copy an analyst
    could still query. A model that is renamed or removed adds its old name to the list.
-#}
{% macro drop_retired_relations() -%}
    {%- set statements = [] -%}
    {%- for retired in var('retired_models', []) -%}
        {%- set layer, identifier = retired.split('.') -%}
        {%- set relation = adapter.get_relation(
            database=target.database, schema=generate_schema_name(layer, none), identifier=identifier
        ) if execute else none -%}
        {%- if relation is not none -%}
            {%- do statements.append('drop ' ~ relation.type ~ ' if exists ' ~ relation ~ ' cascade') -%}
        {%- endif -%}
    {%- endfor -%}
    {{ statements | join(';\n') if statements else 'select 1' }}
{%- endmacro %}
