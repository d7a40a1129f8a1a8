{#-
    dbt-postgres's get_columns_in_relation with the real type of array columns. information_schema
    names every array type `ARRAY`, and an incremental model whose new column is an array then fails
    to add it (`alter table ... add column first_name_grams ARRAY`: a syntax error). The element type
    is in udt_name (`_text` for text[]). Otherwise the query is dbt-postgres 1.11's.
-#}
{% macro postgres__get_columns_in_relation(relation) -%}
    {% call statement('get_columns_in_relation', fetch_result=True) %}
        select
            column_name,
            case when data_type = 'ARRAY' then substr(udt_name, 2) || '[]' else data_type end as data_type,
            character_maximum_length,
            numeric_precision,
            numeric_scale
        from {{ relation.information_schema('columns') }}
        where
            table_name = '{{ relation.identifier }}'
            {% if relation.schema %}
                and table_schema = '{{ relation.schema }}'
            {% endif %}
        order by ordinal_position
    {% endcall %}
    {% set table = load_result('get_columns_in_relation').table %}
    {{ return(sql_convert_columns_in_relation(table)) }}
{%- endmacro %}
