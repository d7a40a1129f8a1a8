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
