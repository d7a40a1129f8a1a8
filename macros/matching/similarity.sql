{#-
    String and date similarity measures in plain SQL (no pg_trgm, no fuzzystrmatch).
    Each takes two SQL expressions and is null when either side is null.
-#}

{#-
    Jaccard similarity of the sets of character n-grams of two strings, each padded with one space on
    both sides so that first and last letters count: 1.0 for equal strings, 0.0 for nothing in common.
-#}
{% macro ngram_jaccard(left_expr, right_expr, n=2) -%}
    {{ return(adapter.dispatch('ngram_jaccard', 'customer_sync')(left_expr, right_expr, n)) }}
{%- endmacro %}

{% macro default__ngram_jaccard(left_expr, right_expr, n) -%}
    case when {{ left_expr }} is not null and {{ right_expr }} is not null then (
        select coalesce(avg(case when grams.sides = 2 then 1.0 else 0.0 end), 0.0)
        from (
            select sided.gram, count(distinct sided.side) as sides
            from (
                select 1 as side, substr(' ' || {{ left_expr }} || ' ', l_positions.position_no, {{ n }}) as gram
                from generate_series(1, length({{ left_expr }}) + 3 - {{ n }}) as l_positions (position_no)
                union all
                select 2 as side, substr(' ' || {{ right_expr }} || ' ', r_positions.position_no, {{ n }}) as gram
                from generate_series(1, length({{ right_expr }}) + 3 - {{ n }}) as r_positions (position_no)
            ) as sided
            group by sided.gram
        ) as grams
    ) end
{%- endmacro %}


{#- Jaccard similarity of the sets of space-separated tokens of two folded strings. -#}
{% macro token_jaccard(left_expr, right_expr) -%}
    {{ return(adapter.dispatch('token_jaccard', 'customer_sync')(left_expr, right_expr)) }}
{%- endmacro %}

{% macro default__token_jaccard(left_expr, right_expr) -%}
    case when {{ left_expr }} is not null and {{ right_expr }} is not null then (
        select coalesce(avg(case when tokens.sides = 2 then 1.0 else 0.0 end), 0.0)
        from (
            select sided.token, count(distinct sided.side) as sides
            from (
                select 1 as side, l_tokens.token
                from unnest(string_to_array({{ left_expr }}, ' ')) as l_tokens (token)
                union all
                select 2 as side, r_tokens.token
                from unnest(string_to_array({{ right_expr }}, ' ')) as r_tokens (token)
            ) as sided
            where sided.token <> ''
            group by sided.token
        ) as tokens
    ) end
{%- endmacro %}


{#-
    True when two strings are at most one Damerau edit apart: equal, or one character inserted,
    deleted or substituted, or two adjacent characters transposed ("jonh" / "john").
    Cheap guards first (equality, length difference), the position scan only when they pass.
-#}
{% macro within_one_edit(left_expr, right_expr) -%}
    {{ return(adapter.dispatch('within_one_edit', 'customer_sync')(left_expr, right_expr)) }}
{%- endmacro %}

{% macro default__within_one_edit(left_expr, right_expr) -%}
    case
        when {{ left_expr }} is null or {{ right_expr }} is null then null
        when {{ left_expr }} = {{ right_expr }} then true
        when abs(length({{ left_expr }}) - length({{ right_expr }})) > 1 then false
        else exists (
            select 1
            from generate_series(1, greatest(length({{ left_expr }}), length({{ right_expr }}))) as edit_positions (i)
            where
                {# substitution at i: both equal once the i-th character is removed from each #}
                left({{ left_expr }}, edit_positions.i - 1) || substr({{ left_expr }}, edit_positions.i + 1)
                = left({{ right_expr }}, edit_positions.i - 1) || substr({{ right_expr }}, edit_positions.i + 1)
                {# deletion or insertion at i #}
                or left({{ left_expr }}, edit_positions.i - 1) || substr({{ left_expr }}, edit_positions.i + 1)
                = {{ right_expr }}
                or left({{ right_expr }}, edit_positions.i - 1) || substr({{ right_expr }}, edit_positions.i + 1)
                = {{ left_expr }}
                {# transposition of the characters at i and i + 1 #}
                or (
                    edit_positions.i < length({{ left_expr }})
                    and left({{ left_expr }}, edit_positions.i - 1)
                    || substr({{ left_expr }}, edit_positions.i + 1, 1)
                    || substr({{ left_expr }}, edit_positions.i, 1)
                    || substr({{ left_expr }}, edit_positions.i + 2)
                    = {{ right_expr }}
                )
        )
    end
{%- endmacro %}


{#-
    True when two dates differ by a typical keying error only: day and month swapped, or exactly one of
    year, month and day differs (a mistyped digit), or they are at most `max_days` apart.
-#}
{% macro dates_nearly_equal(left_expr, right_expr, max_days=1) -%}
    {{ return(adapter.dispatch('dates_nearly_equal', 'customer_sync')(left_expr, right_expr, max_days)) }}
{%- endmacro %}

{% macro default__dates_nearly_equal(left_expr, right_expr, max_days) -%}
    case
        when {{ left_expr }} is null or {{ right_expr }} is null then null
        else (
            abs({{ left_expr }} - {{ right_expr }}) <= {{ max_days }}
            or (
                extract(year from {{ left_expr }}) = extract(year from {{ right_expr }})
                and extract(month from {{ left_expr }}) = extract(day from {{ right_expr }})
                and extract(day from {{ left_expr }}) = extract(month from {{ right_expr }})
            )
            or (
                (case when extract(year from {{ left_expr }}) = extract(year from {{ right_expr }}) then 1 else 0 end)
                + (case when extract(month from {{ left_expr }}) = extract(month from {{ right_expr }}) then 1 else 0 end)
                + (case when extract(day from {{ left_expr }}) = extract(day from {{ right_expr }}) then 1 else 0 end)
            ) = 2
        )
    end
{%- endmacro %}
