{#-
    Why two records were matched: for each pair in int_customer_matches, one row per comparison (and
    one for the name frequency adjustment) with its level, the level's label and its match weight (from int_customer_pair_scores and the model's
    parameters), next to the pair's total weight and probability and whether the pair ended in the same
    customer (a conflict split can separate a matched pair). Steward must-match pairs that were never
    candidate pairs have null levels and weights.

    A view: read far less often than it is built, and every build moves each pair's total weight (the
    prior follows the number of records), so a table meant rewriting every row of it at every build
    (1.3 million rows at 100k persons: 3.6 s, and 1.6 s to test; 13 million rows and 117 s at 1M).
    Explaining one pair reads the matches and scores in place: about 0.3 s at 100k persons.
-#}
{{ config(materialized='view') }}
{%- set comparisons = matching_comparisons() -%}

with

matches as (

    select * from {{ ref('int_customer_matches') }}

),

scores as (

    select * from {{ ref('int_customer_pair_scores') }}

),

parameters as (

    select * from {{ ref('int_customer_match_parameters') }}

),

golden_ids as (

    select * from {{ ref('int_customer_golden_ids') }}

),

-- the pair with its scores and the customers its records ended in, before it is unpivoted
matched_pairs as (

    select
        matches.record_id_l,
        matches.record_id_r,
        golden_l.customer_id as customer_id_l,
        golden_r.customer_id as customer_id_r,
        matches.entity_type,
        matches.match_rule,
        matches.match_weight as pair_match_weight,
        matches.match_probability as pair_match_probability,
        {% for comparison in comparisons -%}
            scores.{{ comparison }}_level,
            scores.{{ comparison }}_weight,
        {% endfor -%}
        scores.name_frequency_weight
    from matches
    left join scores
        on
            matches.record_id_l = scores.record_id_l
            and matches.record_id_r = scores.record_id_r
    left join golden_ids as golden_l
        on matches.record_id_l = golden_l.record_id and golden_l.is_active
    left join golden_ids as golden_r
        on matches.record_id_r = golden_r.record_id and golden_r.is_active

),

-- one row per comparison with its level and weight, then the name frequency adjustment (no level; 0
-- unless the names agree exactly): one pass over the pairs
pair_comparisons as (

    select
        matched_pairs.*,
        explained.comparison,
        explained.comparison_level,
        explained.comparison_weight
    from matched_pairs
    cross join lateral (
        values
        {% for comparison in comparisons -%}
            ('{{ comparison }}', matched_pairs.{{ comparison }}_level, matched_pairs.{{ comparison }}_weight),
        {% endfor -%}
        ('name_frequency', null::integer, matched_pairs.name_frequency_weight)
    ) as explained (comparison, comparison_level, comparison_weight)

),

final as (

    select
        pair_comparisons.record_id_l,
        pair_comparisons.record_id_r,
        pair_comparisons.customer_id_l,
        pair_comparisons.customer_id_r,
        coalesce(pair_comparisons.customer_id_l = pair_comparisons.customer_id_r, false) as is_same_customer,
        pair_comparisons.entity_type,
        pair_comparisons.match_rule,
        pair_comparisons.pair_match_weight,
        pair_comparisons.pair_match_probability,
        pair_comparisons.comparison,
        pair_comparisons.comparison_level,
        parameters.comparison_label,
        pair_comparisons.comparison_weight
    from pair_comparisons
    left join parameters
        on
            pair_comparisons.entity_type = parameters.entity_type
            and pair_comparisons.comparison = parameters.comparison
            and pair_comparisons.comparison_level = parameters.comparison_level

)

select * from final
