{#- Whitespace trimmed and collapsed to single spaces; blank becomes null. -#}
{% macro clean_text(expr) -%}
    nullif(trim({{ regex_replace_all(expr, "'[[:space:]]+'", "' '") }}), '')
{%- endmacro %}


{#- Whether text was typed in one case: all capitals or all lower case (null stays null). -#}
{% macro is_one_case(expr) -%}
    {{ expr }} in (upper({{ expr }}), lower({{ expr }}))
{%- endmacro %}


{#-
    Text typed in one case put in title case (initcap: capital after any non-letter); mixed-case text
    kept as typed. Pass a column: the expression is referenced several times.
-#}
{% macro title_case_if_one_case(expr) -%}
    case when {{ is_one_case(expr) }} then initcap(lower({{ expr }})) else {{ expr }} end
{%- endmacro %}


{#-
    Lower-cased text with accents folded without the unaccent extension (translate() with a mapping of
    accented Latin letters), ligatures spelled out, apostrophes dropped, other punctuation turned into
    spaces and whitespace collapsed. Letters of other scripts are kept.
-#}
{% macro fold_text(expr) -%}
    {%- set accented_lower = 'áàâäãåāăąçćčďđéèêëēėęěğíìîïīįıłñńňóòôöõøōőřśšşșťțúùûüūůűųýÿźżž' -%}
    {%- set accented_upper = 'ÁÀÂÄÃÅĀĂĄÇĆČĎĐÉÈÊËĒĖĘĚĞÍÌÎÏĪĮIŁÑŃŇÓÒÔÖÕØŌŐŘŚŠŞȘŤȚÚÙÛÜŪŮŰŲÝŸŹŻŽ' -%}
    {%- set plain = 'aaaaaaaaacccddeeeeeeeegiiiiiiilnnnoooooooorssssttuuuuuuuuyyzzz' -%}
    nullif(trim({{ regex_replace_all(
        regex_replace_all(
            "replace(replace(replace(replace(replace(replace(lower(translate(" ~ expr ~ ", '"
                ~ accented_lower ~ accented_upper ~ "', '" ~ plain ~ plain ~ "')), 'ß', 'ss'), 'æ', 'ae'), 'œ', 'oe'), 'þ', 'th'), '''', ''), '’', '')",
            "'[^[:alnum:]]+'", "' '"),
        "'[[:space:]]+'", "' '") }}), '')
{%- endmacro %}
