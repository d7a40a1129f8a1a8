{#-
    Person names: whitespace cleaned, a leading honorific (Mr, Mrs, Ms, Dr, Prof ...) dropped, and names
    typed all in capitals or all in lower case put in proper case. Mixed-case names are kept as typed,
    since "van der Berg" or "DeVito" are the person's own spelling. One step per macro, each fed a column
    holding the previous step (standardized_customer_record_ctes): raw name -> drop_name_title ->
    clean_text -> initcap(lower()) -> standardize_person_name.
-#}

{#- The name without a leading honorific ("Dr. maria" -> "maria"); other names unchanged. -#}
{% macro drop_name_title(expr) -%}
    {%- set title = "'(^[[:space:]]*(mr|mrs|ms|miss|mx|dr|prof|sir|herr|frau|mme|mlle|sr|sra)\\.?[[:space:]]+)'" -%}
    substr({{ expr }}, coalesce(length({{ regex_capture("lower(" ~ expr ~ ")", title) }}), 0) + 1)
{%- endmacro %}


{#-
    The cased name: proper case (capitalize_after_mc of its title case) when typed in one case, else as
    typed. `name_expr` is the untitled, cleaned name and `titled_expr` its initcap(lower()), both columns.
-#}
{% macro standardize_person_name(name_expr, titled_expr) -%}
    case when {{ is_one_case(name_expr) }} then {{ capitalize_after_mc(titled_expr) }} else {{ name_expr }} end
{%- endmacro %}


{#-
    Proper case from a name in title case (initcap(lower(name)), which already survives apostrophes and
    hyphens: O'Neil, Jean-Luc): the letter after a word-initial Scottish/Irish "Mc" capitalised
    (Mcdonald -> McDonald). "Mac" is left alone: Mack and Macy are names too.
-#}
{% macro capitalize_after_mc(titled_expr) -%}
    {{ return(adapter.dispatch('capitalize_after_mc', 'customer_sync')(titled_expr)) }}
{%- endmacro %}

{% macro default__capitalize_after_mc(titled_expr) -%}
    {{ titled_expr }}
{%- endmacro %}

{% macro postgres__capitalize_after_mc(titled_expr) -%}
    case
        when regexp_instr({{ titled_expr }}, '(^|[^[:alpha:]])Mc[[:lower:]]') > 0
            then left({{ titled_expr }}, strpos({{ titled_expr }}, 'Mc') + 1)
                || upper(substr({{ titled_expr }}, strpos({{ titled_expr }}, 'Mc') + 2, 1))
                || substr({{ titled_expr }}, strpos({{ titled_expr }}, 'Mc') + 3)
        else {{ titled_expr }}
    end
{%- endmacro %}


{#- A name folded for comparison: lower case, accents folded ('José' -> 'jose'), punctuation removed. -#}
{% macro name_match_key(expr) -%}
    {{ fold_text(expr) }}
{%- endmacro %}


{#-
    The root of a first name: the folded first token looked up in ref_nicknames ('Bob' -> 'robert').
    `nicknames` is the alias of the nickname row joined on nickname_lookup_key(); names without a
    nickname entry are their own root. Pass `lookup_key_expr` (a column already holding
    nickname_lookup_key of the name) to reuse it instead of folding the name again.
-#}
{% macro nickname_root(first_name_expr, nicknames='nicknames', lookup_key_expr=none) -%}
    coalesce({{ nicknames }}.root_name, {{ lookup_key_expr or nickname_lookup_key(first_name_expr) }})
{%- endmacro %}

{#-
    The key a first name is looked up by in ref_nicknames: its folded first token (the first token of
    its name_match_key). Pass `match_key_expr` (a column already holding name_match_key of the name) to
    reuse it instead of folding the name again.
-#}
{% macro nickname_lookup_key(first_name_expr, match_key_expr=none) -%}
    nullif(split_part({{ match_key_expr or name_match_key(first_name_expr) }}, ' ', 1), '')
{%- endmacro %}


{#-
    Whether a (cleaned) customer name looks like a company: it carries a legal form or a word such as
    Holdings as a whole word (var company_name_words: Inc, Ltd, GmbH, S.A., S.L., Α.Ε., ООО ...), or
    ends in a legal form written without a space (var company_name_suffixes: 株式会社, 有限公司).
-#}
{% macro looks_like_company_name(expr) -%}
    coalesce({{ regex_matches(
        "' ' || " ~ regex_replace_all("lower(" ~ expr ~ ")", "'[.,]'", "''") ~ " || ' '",
        "' (" ~ var('company_name_words') | join('|') ~ ") '"
    ) }} or {{ regex_matches(expr, "'(" ~ var('company_name_suffixes') | join('|') ~ ")$'") }}, false)
{%- endmacro %}


{#-
    Whether a person record is really a company known by its name alone: no company name, and a full
    name that looks like a company's ("Asuncion Company"). Matching keys such a record as a company
    (int_customer_records) and the reverse-ETL compares its name as the company name
    (sync_field_comparisons), so the rule lives here once. Never null.
-#}
{% macro is_company_by_name(entity_type, company_name, full_name) -%}
    coalesce(
        {{ entity_type }} = 'person' and {{ company_name }} is null and {{ looks_like_company_name(full_name) }},
        false
    )
{%- endmacro %}
