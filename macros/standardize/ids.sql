{#- A national or tax id: spaces and punctuation stripped, upper-cased; blank is null. -#}
{% macro standardize_national_id(expr) -%}
    nullif(upper({{ regex_replace_all(expr, "'[^[:alnum:]]+'", "''") }}), '')
{%- endmacro %}
