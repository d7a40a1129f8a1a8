{#-
    Text folding for matching keys, without the unaccent extension: lower-case, accents folded with
    translate(), ligatures spelled out, punctuation turned into spaces, whitespace collapsed.
    Letters of non-Latin scripts are kept (lower-cased), so Greek or Cyrillic names still compare.
-#}

{% macro fold_for_matching(expr) -%}
    {{ return(adapter.dispatch('fold_for_matching', 'customer_sync')(expr)) }}
{%- endmacro %}

{#- Text that is all ASCII once lower-cased (one byte per character: most names and addresses) skips the
    transliteration and accent steps, which change nothing in it. -#}
{% macro default__fold_for_matching(expr) -%}
    nullif(trim(regexp_replace(regexp_replace(
        case
            when octet_length(lower({{ expr }})) = char_length(lower({{ expr }}))
                then replace(lower({{ expr }}), '''', '')
            else replace(replace(replace(replace(replace(translate({{ transliterate_to_latin('lower(' ~ expr ~ ')') }},
            'áàâäãåāăąçćčďđéèêëēėęěíìîïīįıłñńňóòôöõøōőřśšşșťțúùûüūůűųýÿźżžÁÀÂÄÃÅĀĂĄÇĆČĎĐÉÈÊËĒĖĘĚÍÌÎÏĪĮŁÑŃŇÓÒÔÖÕØŌŐŘŚŠŞȘŤȚÚÙÛÜŪŮŰŲÝŸŹŻŽ',
            'aaaaaaaaacccddeeeeeeeeiiiiiiilnnnoooooooorssssttuuuuuuuuyyzzzaaaaaaaaacccddeeeeeeeeiiiiiilnnnoooooooorssssttuuuuuuuuyyzzz'),
            'ß', 'ss'), 'æ', 'ae'), 'œ', 'oe'), 'þ', 'th'), '''', '')
        end,
        '[^[:alnum:]]+', ' ', 'g'), '\s+', ' ', 'g')), '')
{%- endmacro %}


{#-
    Greek and Cyrillic letters spelled in Latin letters (a simplified ELOT / BGN scheme), so that
    "Ксения Стрелкова" and "Kseniya Strelkova" give the same key. Letters spelled with two or more
    Latin letters are first marked (zh = ж followed by h, ts = ц followed by s, ya = y followed by я,
    shch), then every letter is mapped to one Latin letter with translate(); the hard and soft signs
    are dropped. Upper-case letters are mapped too, so the result does not depend on the database's
    ctype. Kept shallow on purpose: a chain of replace() calls would nest too deep for linters.
-#}
{% macro transliterate_to_latin(expr) -%}
    {{ return(adapter.dispatch('transliterate_to_latin', 'customer_sync')(expr)) }}
{%- endmacro %}

{% macro default__transliterate_to_latin(expr) -%}
    {%- set single_from = 'абвгдеёзийклмнопрстуфыэіґжшчхцюяїєαάβγδεέζηήιίϊκλμνξοόπρσςτυύϋφωώθχψ' -%}
    {%- set single_to = 'abvgdeeziyklmnoprstufyeigzscktuaieaavgdeeziiiiiklmnxooprsstyyyfootcp' -%}
    translate(regexp_replace(regexp_replace(regexp_replace(regexp_replace({{ expr }},
        '[щЩ]', 'shch', 'g'),
        '([жшчхθχЖШЧХΘΧ])', '\1h', 'g'),
        '([цψЦΨ])', '\1s', 'g'),
        '([юяїєЮЯЇЄ])', 'y\1', 'g'),
        '{{ single_from }}{{ single_from | upper }}ъьЪЬ', '{{ single_to }}{{ single_to }}')
{%- endmacro %}


{#- The folded text with every space removed: "O'Neil-Smith" and "oneil smith" give "oneilsmith". -#}
{% macro squash_for_matching(expr) -%}
    nullif(replace({{ fold_for_matching(expr) }}, ' ', ''), '')
{%- endmacro %}


{#- The folded tokens sorted alphabetically: "Smith John" and "john smith" give "john smith". -#}
{% macro sorted_tokens(folded_expr) -%}
    {{ return(adapter.dispatch('sorted_tokens', 'customer_sync')(folded_expr)) }}
{%- endmacro %}

{% macro default__sorted_tokens(folded_expr) -%}
    nullif(array_to_string(array(
        select token from unnest(string_to_array({{ folded_expr }}, ' ')) as tokens (token)
        where token <> ''
        order by token
    ), ' '), '')
{%- endmacro %}


{#- The first letter of every token, sorted: "john a smith" gives "ajs". -#}
{% macro sorted_initials(folded_expr) -%}
    {{ return(adapter.dispatch('sorted_initials', 'customer_sync')(folded_expr)) }}
{%- endmacro %}

{% macro default__sorted_initials(folded_expr) -%}
    nullif(array_to_string(array(
        select left(token, 1) from unnest(string_to_array({{ folded_expr }}, ' ')) as tokens (token)
        where token <> ''
        order by 1
    ), ''), '')
{%- endmacro %}


{#- The first n letters of every token, sorted and joined: "john smith" with n=3 gives "joh smi". -#}
{% macro token_prefixes(folded_expr, n=3) -%}
    {{ return(adapter.dispatch('token_prefixes', 'customer_sync')(folded_expr, n)) }}
{%- endmacro %}

{% macro default__token_prefixes(folded_expr, n) -%}
    nullif(array_to_string(array(
        select left(token, {{ n }}) from unnest(string_to_array({{ folded_expr }}, ' ')) as tokens (token)
        where token <> ''
        order by 1
    ), ' '), '')
{%- endmacro %}


{#-
    A Soundex-like phonetic code of a folded name: first letter, then the digit classes of the
    following consonants (b f p v = 1, c g j k q s x z = 2, d t = 3, l = 4, m n = 5, r = 6), vowels
    and h w y dropped after collapsing repeats, padded to four characters. Non-Latin names give null.
-#}
{% macro soundex_code(folded_expr) -%}
    {{ return(adapter.dispatch('soundex_code', 'customer_sync')(folded_expr)) }}
{%- endmacro %}

{% macro default__soundex_code(folded_expr) -%}
    case when {{ folded_expr }} ~ '^[a-z]' then
        left(rpad(
            left(regexp_replace({{ folded_expr }}, '[^a-z]', '', 'g'), 1)
            || replace(substr(regexp_replace(
                translate(regexp_replace({{ folded_expr }}, '[^a-z]', '', 'g'),
                    'abcdefghijklmnopqrstuvwxyz', '01230120022455012623010202'),
                '(.)\1+', '\1', 'g'), 2), '0', ''),
            4, '0'), 4)
    end
{%- endmacro %}
