{#-
    A column of a landed customer file, as trimmed text, or typed null when the file lacks the column.
    `present` is the list of the file's (lower-case) column names, read when the model compiles.
-#}
{% macro file_field(name, present) -%}
    {%- if name in present -%}
        nullif(trim(cast({{ name }} as {{ dbt.type_string() }})), '')
    {%- else -%}
        cast(null as {{ dbt.type_string() }})
    {%- endif -%}
{%- endmacro %}
