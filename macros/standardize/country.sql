{#-
    The key a country as typed ("Deutschland", "U.S.A.", "gb", "GBR", "Côte d'Ivoire") is looked up by
    in stg_reference__country_aliases: folded text (lower case, accents folded) without punctuation or
    spaces, so "U.S.A." and "usa" meet.
-#}
{% macro country_lookup_key(expr) -%}
    nullif(replace({{ fold_text(expr) }}, ' ', ''), '')
{%- endmacro %}
