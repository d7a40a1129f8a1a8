{#-
    Every candidate pair scored: per comparison its level and match weight, and the total match weight
    (prior + the sum of the level weights + the name frequency adjustment; a missing value adds nothing)
    with its match probability.
-#}
{%- set comparisons = matching_comparisons() -%}
{#- statistics on what its readers filter and join on (macros/analyze_after_build.sql): int_customer_matches
    keeps the pairs above the threshold and meets the stewards' pairs by their records -#}
{{ config(meta={'analyze_columns': ['record_id_l', 'record_id_r', 'entity_type', 'match_probability']}) }}

with

comparisons as (

    select * from {{ ref('int_customer_pair_comparisons') }}

),

-- read in place at each of its joins (not materialized): the scan of a materialized CTE would keep the
-- whole query in one process, where parallel workers can score the pairs
parameters as not materialized (

    select * from {{ ref('int_customer_match_parameters') }}

),

name_frequencies as (

    select * from {{ ref('int_customer_name_frequencies') }}

),

priors as (

    select distinct
        entity_type,
        prior_match_weight
    from parameters

),

-- for two records with the same name: how much rarer the name is than a typical one (above 1 for a
-- rare name, below 1 for a common one); null otherwise
with_name_frequency_ratios as (

    select
        comparisons.*,
        name_frequencies.name_frequency_typical / name_frequencies.name_frequency as name_frequency_ratio
    from comparisons
    left join name_frequencies
        on
            comparisons.entity_type = name_frequencies.entity_type
            and comparisons.shared_name_tokens = name_frequencies.name_tokens_sorted

),

weighted as (

    select
        ratioed.record_id_l,
        ratioed.record_id_r,
        ratioed.entity_type,
        ratioed.blocking_rules,
        ratioed.is_name_swapped,
        {% for comparison in comparisons %}
            ratioed.{{ comparison }}_level,
            coalesce(weight_{{ comparison }}.match_weight, 0) as {{ comparison }}_weight,
        {% endfor %}
        {{ name_frequency_weight('ratioed') }} as name_frequency_weight,
        priors.prior_match_weight
    from with_name_frequency_ratios as ratioed
    inner join priors
        on ratioed.entity_type = priors.entity_type
    {% for comparison in comparisons %}
        left join parameters as weight_{{ comparison }}
            on
                ratioed.entity_type = weight_{{ comparison }}.entity_type
                and weight_{{ comparison }}.comparison = '{{ comparison }}'
                and ratioed.{{ comparison }}_level = weight_{{ comparison }}.comparison_level
    {% endfor %}

),

summed as (

    select
        *,
        prior_match_weight
        {% for comparison in comparisons %}+ {{ comparison }}_weight
        {% endfor %}+ name_frequency_weight as match_weight
    from weighted

),

final as (

    select
        *,
        1 / (1 + power(2::double precision, -least(greatest(match_weight, -60), 60))) as match_probability
    from summed

)

select * from final
