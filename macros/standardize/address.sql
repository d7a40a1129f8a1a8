{#-
    An address line: whitespace cleaned (clean_text), all-capitals or all-lower-case lines put in title
    case (title_case_if_one_case), and, in this last step, German "-straße"/"-strasse" compounds shortened
    to "-str" and every word found in ref_address_abbreviations (matched without case and trailing dot or
    comma) replaced by its abbreviation: "12 main street." and "12 Main St" both become "12 Main St".
    `cased_expr` is a column holding the line after the first two steps; `abbreviations` is a relation
    with columns word, abbreviation.
-#}
{% macro standardize_address_line(cased_expr, abbreviations) -%}
    {{ return(adapter.dispatch('standardize_address_line', 'customer_sync')(cased_expr, abbreviations)) }}
{%- endmacro %}

{% macro default__standardize_address_line(cased_expr, abbreviations) -%}
    {{ exceptions.raise_compiler_error(
        "standardize_address_line has no implementation for adapter " ~ adapter.type()
        ~ "; add one in macros/standardize/address.sql") }}
{%- endmacro %}

{% macro postgres__standardize_address_line(cased_expr, abbreviations) -%}
    {%- set compounds = "regexp_replace(" ~ cased_expr ~ ", '([[:alpha:]])(stra(ss|ß)e)([^[:alpha:]]|$)', '\\1str\\4', 'gi')" -%}
    (
        select string_agg(coalesce(abbreviations.abbreviation || tokens.trailing_punctuation, tokens.token), ' ' order by tokens.position)
        from (
            select
                words.token,
                words.position,
                lower(regexp_replace(words.token, '[.,]+$', '')) as lookup_word,
                coalesce(substring(words.token from '[,]$'), '') as trailing_punctuation
            from unnest(string_to_array({{ compounds }}, ' ')) with ordinality as words (token, position)
        ) as tokens
        left join {{ abbreviations }} as abbreviations
            on tokens.lookup_word = abbreviations.word
    )
{%- endmacro %}


{#-
    The regular expression of a unit within a building at the start of a (lower-cased) address line or
    comma-separated part of one: one of var('address_unit_patterns'), then a space, a digit or the end.
-#}
{% macro address_unit_regex() -%}
    '^(({{ var('address_unit_patterns') | join(')|(') }}))( |[0-9]|$)'
{%- endmacro %}


{#- Whether an address line is a unit within a building ("Apt 4", "5. OG", "4º F"); null stays null. -#}
{% macro is_address_unit(expr) -%}
    {{ regex_matches('lower(' ~ expr ~ ')', address_unit_regex()) }}
{%- endmacro %}


{#-
    In a one-line address, the number (from 2) of the first comma-separated part that is a unit within a
    building, when the first part is not one: 3 for "Calle Puga, 21, 4º F". Null when there is none.
-#}
{% macro address_unit_part_no(expr) -%}
    {{ return(adapter.dispatch('address_unit_part_no', 'customer_sync')(expr)) }}
{%- endmacro %}

{% macro default__address_unit_part_no(expr) -%}
    {{ exceptions.raise_compiler_error(
        "address_unit_part_no has no implementation for adapter " ~ adapter.type()
        ~ "; add one in macros/standardize/address.sql") }}
{%- endmacro %}

{% macro postgres__address_unit_part_no(expr) -%}
    (
        select min(parts.part_no)
        from unnest(string_to_array({{ expr }}, ',')) with ordinality as parts (part, part_no)
        where
            parts.part_no > 1
            and {{ is_address_unit('trim(parts.part)') }}
            and not coalesce({{ is_address_unit('split_part(' ~ expr ~ ", ',', 1)") }}, false)
    )
{%- endmacro %}


{#- Comma-separated parts `first_part` to `last_part` (1-based; to the end when none) of a line, trimmed. -#}
{% macro comma_parts(expr, first_part, last_part=none) -%}
    {{ return(adapter.dispatch('comma_parts', 'customer_sync')(expr, first_part, last_part)) }}
{%- endmacro %}

{% macro default__comma_parts(expr, first_part, last_part) -%}
    {{ exceptions.raise_compiler_error(
        "comma_parts has no implementation for adapter " ~ adapter.type()
        ~ "; add one in macros/standardize/address.sql") }}
{%- endmacro %}

{% macro postgres__comma_parts(expr, first_part, last_part) -%}
    nullif(trim(array_to_string(
        (string_to_array({{ expr }}, ','))[{{ first_part }}:{{ last_part if last_part is not none else '' }}], ','
    )), '')
{%- endmacro %}
