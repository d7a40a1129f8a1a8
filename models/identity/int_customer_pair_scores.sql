{#-
    Every candidate pair scored: per comparison its level and match weight, and the total match weight
    (prior + the sum of the level weights + the name frequency adjustment; a missing value adds nothing)
    with its match probability.
-#}
{%- set comparisons = matching_comparisons() -%}

with

comparisons as (

    select * from {{ ref('int_customer_pair_comparisons') }}

),

parameters as (

    select * from {{ ref('int_customer_match_parameters') }}

),

priors as (

    select distinct
        entity_type,
        prior_match_weight
    from parameters

),

weighted as (

    select
        comparisons.record_id_l,
        comparisons.record_id_r,
        comparisons.entity_type,
        comparisons.blocking_rules,
        comparisons.is_name_swapped,
        {% for comparison in comparisons %}
            comparisons.{{ comparison }}_level,
            coalesce(weight_{{ comparison }}.match_weight, 0) as {{ comparison }}_weight,
        {% endfor %}
        {{ name_frequency_weight('comparisons') }} as name_frequency_weight,
        priors.prior_match_weight
    from comparisons
    inner join priors
        on comparisons.entity_type = priors.entity_type
    {% for comparison in comparisons %}
        left join parameters as weight_{{ comparison }}
            on
                comparisons.entity_type = weight_{{ comparison }}.entity_type
                and weight_{{ comparison }}.comparison = '{{ comparison }}'
                and comparisons.{{ comparison }}_level = weight_{{ comparison }}.comparison_level
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
