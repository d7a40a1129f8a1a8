{#-
    String and date similarity measures in plain SQL (no pg_trgm, no fuzzystrmatch).
    Each takes two SQL expressions and is null when either side is null.
-#}

{#-
    Jaccard similarity of the sets of character n-grams of two strings, each padded with one space on
    both sides so that first and last letters count: 1.0 for equal strings, 0.0 for nothing in common.

    Computed in one pass over the gram positions, without grouping the grams: a gram of a padded string
    counts once, at its first occurrence (strpos finds it there and nowhere earlier), and it is shared
    when it occurs anywhere in the other padded string (any n characters of it are one of its grams).
    Shared / (left + right - shared) is then the Jaccard of the two sets, as the same numeric (the
    value and scale avg() gave over the union of the grams when they were grouped); 0.0 when no side
    has a gram.
-#}
{% macro ngram_jaccard(left_expr, right_expr, n=2) -%}
    {{ return(adapter.dispatch('ngram_jaccard', 'customer_sync')(left_expr, right_expr, n)) }}
{%- endmacro %}

{% macro default__ngram_jaccard(left_expr, right_expr, n) -%}
    {%- set l_padded = 'padded.l_padded' -%}
    {%- set r_padded = 'padded.r_padded' -%}
    {%- set l_gram = 'substr(' ~ l_padded ~ ', gram_positions.position_no, ' ~ n ~ ')' -%}
    {%- set r_gram = 'substr(' ~ r_padded ~ ', gram_positions.position_no, ' ~ n ~ ')' -%}
    {%- set l_first -%}
        (gram_positions.position_no <= length({{ l_padded }}) + 1 - {{ n }}
            and strpos({{ l_padded }}, {{ l_gram }}) = gram_positions.position_no)
    {%- endset -%}
    {%- set r_first -%}
        (gram_positions.position_no <= length({{ r_padded }}) + 1 - {{ n }}
            and strpos({{ r_padded }}, {{ r_gram }}) = gram_positions.position_no)
    {%- endset -%}
    {%- set shared -%}
        ({{ l_first }} and strpos({{ r_padded }}, {{ l_gram }}) > 0)
    {%- endset -%}
    case when {{ left_expr }} is not null and {{ right_expr }} is not null then (
        select coalesce(
            count(*) filter (where {{ shared }}) * 1.0
            / nullif(
                count(*) filter (where {{ l_first }}) + count(*) filter (where {{ r_first }})
                - count(*) filter (where {{ shared }}),
                0
            ),
            0.0
        )
        {# the padded strings are built once per pair, not once per use and gram position: the limit (of
            a subquery that has one row) keeps Postgres from inlining them into every use #}
        from (
            select
                ' ' || {{ left_expr }} || ' ' as l_padded,
                ' ' || {{ right_expr }} || ' ' as r_padded
            limit 1 -- noqa: AM09
        ) as padded
        cross join lateral generate_series(
            1, greatest(length(padded.l_padded), length(padded.r_padded)) + 1 - {{ n }}
        ) as gram_positions (position_no)
    ) end
{%- endmacro %}


{#- Jaccard similarity of the sets of space-separated tokens of two folded strings. Two strings with no
    token in common (the usual case between different customers) are 0 at once: `&&` (arrays overlap)
    tells, without the set operations. -#}
{% macro token_jaccard(left_expr, right_expr) -%}
    {{ return(adapter.dispatch('token_jaccard', 'customer_sync')(left_expr, right_expr)) }}
{%- endmacro %}

{% macro default__token_jaccard(left_expr, right_expr) -%}
    case
        when {{ left_expr }} is null or {{ right_expr }} is null then null
        {# no token in common (the arrays share no element): 0, without unnesting them; most pairs #}
        when not (string_to_array({{ left_expr }}, ' ') && string_to_array({{ right_expr }}, ' ')) then 0.0
        else (
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
        )
    end
{%- endmacro %}


{#-
    True when two strings are at most one Damerau edit apart: equal, or one character inserted,
    deleted or substituted, or two adjacent characters transposed ("jonh" / "john").
    Cheap guards first (equality, length difference, then the ends), the position scan only when they
    pass.

    The ends guard is exact (it never rejects a pair the scan accepts). With m the shorter length, one
    edit at position i leaves the first P = i - 1 characters equal and the last S characters equal, where
    P + S = m - 1 for a substitution, m - 2 for a transposition of i and i + 1, and m for a character
    inserted into the shorter string; so P + S >= m - 2 always. Hence for every k in 0 .. m - 1, either
    P >= k, so the first k characters are equal, or P <= k - 1, so S >= m - 1 - k and the last m - 1 - k
    characters are equal. The guard asks this for k = a third, half and two thirds of m - 1 (integer
    division, so 0 <= k <= m - 1; for m <= 1 every k is 0 and the guard passes). Random pairs (phone
    numbers sharing a country prefix, postcodes of one length) almost never pass it.
-#}
{% macro within_one_edit(left_expr, right_expr) -%}
    {{ return(adapter.dispatch('within_one_edit', 'customer_sync')(left_expr, right_expr)) }}
{%- endmacro %}

{% macro default__within_one_edit(left_expr, right_expr) -%}
    {%- set span = 'greatest(least(length(' ~ left_expr ~ '), length(' ~ right_expr ~ ')) - 1, 0)' -%}
    {%- set splits = [span ~ ' / 3', span ~ ' / 2', span ~ ' - ' ~ span ~ ' / 3'] -%}
    case
        when {{ left_expr }} is null or {{ right_expr }} is null then null
        when {{ left_expr }} = {{ right_expr }} then true
        when abs(length({{ left_expr }}) - length({{ right_expr }})) > 1 then false
        {%- for k in splits %}
        when
            left({{ left_expr }}, {{ k }}) <> left({{ right_expr }}, {{ k }})
            and right({{ left_expr }}, {{ span }} - ({{ k }})) <> right({{ right_expr }}, {{ span }} - ({{ k }}))
            then false
        {%- endfor %}
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
