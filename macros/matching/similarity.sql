{#-
    String and date similarity measures without extensions (no pg_trgm, no fuzzystrmatch).
    Each takes two SQL expressions and is null when either side is null. The cheap tests are written
    inline; what needs a loop over characters, grams or words is a PL/pgSQL function
    (similarity_functions.sql), called only when the cheap tests leave the answer open.
-#}

{#-
    The set of character n-grams of a string padded with one space on both sides (so that first and
    last letters count), as a sorted array without repeats; null for null. int_customer_records keeps
    the bigrams of the name keys, so that a pair's comparison reads two short arrays instead of cutting
    both strings into grams again (each record takes part in many pairs: candidates and u's random
    pairs).
-#}
{% macro char_ngrams(expr, n=2) -%}
    {{ return(adapter.dispatch('char_ngrams', 'customer_sync')(expr, n)) }}
{%- endmacro %}

{% macro default__char_ngrams(expr, n) -%}
    case when {{ expr }} is not null then array(
        select distinct substr(' ' || {{ expr }} || ' ', gram_positions.position_no, {{ n }})
        from generate_series(1, length({{ expr }}) + 3 - {{ n }}) as gram_positions (position_no)
        order by 1
    ) end
{%- endmacro %}


{#-
    Jaccard similarity of two gram sets (arrays without repeats, as char_ngrams makes them): shared
    grams over all grams, 1.0 for equal sets, 0.0 for nothing in common; null when either is null.
    The shared grams are counted by the function grams_jaccard; two sets without a gram in common (most
    pairs of different names) are 0 without it: `&&` (arrays overlap) tells.
-#}
{% macro grams_jaccard(left_grams, right_grams) -%}
    {{ return(adapter.dispatch('grams_jaccard', 'customer_sync')(left_grams, right_grams)) }}
{%- endmacro %}

{% macro default__grams_jaccard(left_grams, right_grams) -%}
    case
        when {{ left_grams }} is null or {{ right_grams }} is null then null
        {#- no gram in common (most pairs of different names): 0 at once, without the function call #}
        when not ({{ left_grams }} && {{ right_grams }}) then 0.0
        else {{ similarity_function('grams_jaccard') }}({{ left_grams }}, {{ right_grams }})
    end
{%- endmacro %}


{#-
    Whether the Jaccard similarity of two gram sets (as grams_jaccard) is at least `threshold` (above
    0); null when either is null. Two sets share at most the grams of the smaller one and together hold
    at least those of the larger, so their similarity is at most the smaller's size over the larger's:
    when that is below the threshold the answer is false from the two sizes alone, with neither the
    overlap test nor the function call (at 100k persons, a third of the u sample's random pairs whose
    company keys share a gram).
-#}
{% macro grams_jaccard_at_least(left_grams, right_grams, threshold) -%}
    case
        when {{ left_grams }} is null or {{ right_grams }} is null then null
        when
            least(cardinality({{ left_grams }}), cardinality({{ right_grams }}))
            < {{ threshold }} * greatest(cardinality({{ left_grams }}), cardinality({{ right_grams }}))
            then false
        else {{ grams_jaccard(left_grams, right_grams) }} >= {{ threshold }}
    end
{%- endmacro %}


{#- Jaccard similarity of the character n-gram sets of two strings (as grams_jaccard of their char_ngrams),
    for strings whose grams are not kept: the function ngram_jaccard cuts both into grams. -#}
{% macro ngram_jaccard(left_expr, right_expr, n=2) -%}
    {{ similarity_function('ngram_jaccard') }}({{ left_expr }}, {{ right_expr }}, {{ n }})
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
        {# no token in common (the arrays share no element): 0, without the function call; most pairs #}
        when not (string_to_array({{ left_expr }}, ' ') && string_to_array({{ right_expr }}, ' ')) then 0.0
        else {{ similarity_function('token_jaccard') }}({{ left_expr }}, {{ right_expr }})
    end
{%- endmacro %}


{#-
    True when two strings are at most one Damerau edit apart: equal, or one character inserted,
    deleted or substituted, or two adjacent characters transposed ("jonh" / "john").
    Cheap guards first (equality, length difference, then the ends), the function within_one_edit (common
    prefix and suffix, similarity_functions.sql) only when they pass.

    The ends guard is exact (it never rejects a pair the function accepts). With m the shorter length, one
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
        else {{ similarity_function('within_one_edit') }}({{ left_expr }}, {{ right_expr }})
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
