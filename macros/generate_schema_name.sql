{#-
    Schemas are named by layer (staging, identity, marts, ...), not prefixed by the target schema.
    `var('schema_prefix')` lets `customer-sync evaluate` build into schemas of its own.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set layer = custom_schema_name if custom_schema_name is not none else target.schema -%}
    {{ var('schema_prefix', '') ~ layer | trim }}
{%- endmacro %}
