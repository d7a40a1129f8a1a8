{#-
    Person names: whitespace cleaned, a leading honorific (Mr, Mrs, Ms, Dr, Prof ...) dropped, and names
    typed all in capitals or all in lower case put in proper case. Mixed-case names are kept as typed,
    since "van der Berg" or "DeVito" are the person's own spelling.
-#}
{% macro standardize_person_name(expr) -%}
    {%- set title = "'^[[:space:]]*(mr|mrs|ms|miss|mx|dr|prof|sir|herr|frau|mme|mlle|sr|sra)\\.?[[:space:]]+'" -%}
    {%- set untitled = "case when " ~ regex_matches("lower(" ~ expr ~ ")", title) ~ " then substr(" ~ expr ~ ", length("
        ~ regex_capture("lower(" ~ expr ~ ")", "'(" ~ title[1:-1] ~ ")'") ~ ") + 1) else " ~ expr ~ " end" -%}
    {%- set cleaned = clean_text(untitled) -%}
    case
        when {{ cleaned }} = upper({{ cleaned }}) or {{ cleaned }} = lower({{ cleaned }})
            then {{ proper_case_name(cleaned) }}
        else {{ cleaned }}
    end
{%- endmacro %}


{#-
    Proper case that survives apostrophes and hyphens (O'Neil, Jean-Luc: initcap capitalises after any
    non-letter) and Scottish/Irish "Mc" (McDonald). "Mac" is left alone: Mack and Macy are names too.
-#}
{% macro proper_case_name(expr) -%}
    {{ return(adapter.dispatch('proper_case_name', 'customer_sync')(expr)) }}
{%- endmacro %}

{% macro default__proper_case_name(expr) -%}
    initcap(lower({{ expr }}))
{%- endmacro %}

{% macro postgres__proper_case_name(expr) -%}
    {%- set titled = 'initcap(lower(' ~ expr ~ '))' -%}
    case
        when regexp_instr({{ titled }}, '(^|[^[:alpha:]])Mc[[:lower:]]') > 0
            then left({{ titled }}, strpos({{ titled }}, 'Mc') + 1)
                || upper(substr({{ titled }}, strpos({{ titled }}, 'Mc') + 2, 1))
                || substr({{ titled }}, strpos({{ titled }}, 'Mc') + 3)
        else {{ titled }}
    end
{%- endmacro %}


{#- A name folded for comparison: lower case, accents folded ('José' -> 'jose'), punctuation removed. -#}
{% macro name_match_key(expr) -%}
    {{ fold_text(expr) }}
{%- endmacro %}


{#-
    The root of a first name: the folded first token looked up in ref_nicknames ('Bob' -> 'robert').
    `nicknames` is the alias of the nickname row joined on nickname_lookup_key(); names without a
    nickname entry are their own root.
-#}
{% macro nickname_root(first_name_expr, nicknames='nicknames') -%}
    coalesce({{ nicknames }}.root_name, {{ nickname_lookup_key(first_name_expr) }})
{%- endmacro %}

{#- The key a first name is looked up by in ref_nicknames: its folded first token. -#}
{% macro nickname_lookup_key(first_name_expr) -%}
    nullif(split_part({{ fold_text(first_name_expr) }}, ' ', 1), '')
{%- endmacro %}


{#-
    Whether a (cleaned) customer name looks like a company: it carries a legal form as a whole word
    (Inc, LLC, Ltd, GmbH, AG, S.A., Pty, B.V. ...) or a word such as Corporation or Holdings.
-#}
{% macro looks_like_company_name(expr) -%}
    coalesce({{ regex_matches(
        "' ' || " ~ regex_replace_all("lower(" ~ expr ~ ")", "'[.,]'", "''") ~ " || ' '",
        "' (inc|incorporated|llc|llp|ltd|limited|plc|corp|corporation|gmbh|ag|kg|ohg|ug|se|sa|sas|sarl|srl|spa|bv|nv|pty|pte|oy|ab|aps|kk|gbr|co|company|group|holding|holdings|industries|enterprises|solutions|services|partners) '"
    ) }}, false)
{%- endmacro %}
