{#-
    Postcodes per country, driven by ref_country_codes: the compact form is upper case without spaces,
    hyphens or dots, with an old-style country prefix ("D-10115") dropped. Digit-only codes shorter
    than the country's length get their lost leading zeros back (US "2134" -> "02134"), and the
    country's format puts back the separator (GB "SW1A1AA" -> "SW1A 1AA", NL "1234AB" -> "1234 AB",
    CA "K1A0B1" -> "K1A 0B1", US "123456789" -> "12345-6789").
-#}

{#- The postcode upper case without spaces, dots or hyphens, an old country prefix ("D-") dropped. -#}
{% macro postcode_without_separators(expr) -%}
    upper({{ regex_replace_all(
        regex_replace_all("trim(" ~ expr ~ ")", "'^[A-Za-z]{1,3}-([0-9])'", "'\\1'"),
        "'[[:space:].-]+'", "''") }})
{%- endmacro %}


{#-
    The compact postcode: `stripped_expr` (a column holding postcode_without_separators) zero-padded to
    the country's length when digits only; blank is null.
-#}
{% macro postcode_compact(stripped_expr, zero_pad_length) -%}
    case
        when {{ zero_pad_length }} is not null
            and {{ regex_matches(stripped_expr, "'^[0-9]+$'") }}
            and length({{ stripped_expr }}) < {{ zero_pad_length }}
            then lpad({{ stripped_expr }}, cast({{ zero_pad_length }} as integer), '0')
        else nullif({{ stripped_expr }}, '')
    end
{%- endmacro %}


{#- The postcode as written in the country (from the compact form); unformatted when invalid. -#}
{% macro standardize_postcode(compact_expr, format_regex, format_replacement) -%}
    case
        when coalesce({{ format_regex }}, '') <> '' and {{ regex_matches(compact_expr, format_regex) }}
            then {{ regex_replace_all(compact_expr, format_regex, format_replacement) }}
        else {{ compact_expr }}
    end
{%- endmacro %}


{#- Whether the compact postcode fits the country's pattern; null when the country has none. -#}
{% macro is_valid_postcode(compact_expr, postcode_regex) -%}
    case
        when {{ compact_expr }} is null or coalesce({{ postcode_regex }}, '') = '' then null
        else coalesce({{ regex_matches(compact_expr, postcode_regex) }}, false)
    end
{%- endmacro %}
