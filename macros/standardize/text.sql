{#- Whitespace trimmed and collapsed to single spaces; blank becomes null. -#}
{% macro clean_text(expr) -%}
    nullif(trim({{ regex_replace_all(expr, "'[[:space:]]+'", "' '") }}), '')
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
