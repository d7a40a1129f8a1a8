{#-
    m probabilities: how often each comparison level occurs among pairs that ARE the same customer,
    estimated by expectation-maximisation over the candidate pairs.

    Pairs are first aggregated into comparison patterns (a few hundred to a few thousand), so each of the
    var('em_iterations') iterations, unrolled below as CTEs, works on patterns, not on pairs. Within the
    candidate pairs the non-matching pairs are not random pairs (blocking made them agree on a name, an
    email, a postcode ...), so EM estimates their level shares too (candidate_u_probability); scoring
    uses only m from here, with u from random pairs (int_customer_u_probabilities).
    Starting values and fixed overrides of m come from seeds/match_parameters.csv.

    Trained with them, and kept with them, per entity type: the records there were (the prior's
    possible pairs, int_customer_match_parameters) and the typical name count (the baseline of the
    name frequency adjustment, int_customer_pair_scores). Live, both moved with every record added or
    deleted, and with them every pair's score: a build could not score only the pairs it compared again.
-#}
-- depends_on: {{ ref('int_customer_records') }}
{%- set comparisons = matching_comparisons() -%}
{%- set iterations = var('em_iterations', 20) -%}
{%- set min_probability = var('em_min_probability', 0.00001) -%}
{#- estimated once, then kept: see macros/matching/training.sql -#}
{%- set fingerprint = match_training_fingerprint(
    ['int_customer_records', 'int_customer_blocking_keys', 'int_customer_oversized_blocks', 'int_customer_pairs',
     'int_customer_pair_comparisons', 'int_customer_name_frequencies', 'int_customer_m_probabilities'],
    [iterations, min_probability, var('em_initial_candidate_match_share', 0.3), var('max_block_size')]
) -%}
{%- set train = match_parameters_need_training(fingerprint) %}
{#- kept parameters run none of the iterations, and Postgres need not parse them: unrolled, they are
    about 2,600 lines of SQL, which took 0.3 s of every build at 100k persons to parse and plan -#}
{%- set unrolled = iterations if train else 0 %}

with

{% if not train -%}
-- the parameters as the build that estimated them left them; the estimating CTEs below are then not
-- referenced, and Postgres does not run them
trained as (

    select * from {{ this }}

),
{%- endif %}

comparisons as (

    select * from {{ ref('int_customer_pair_comparisons') }}

),

parameters as (

    select * from {{ ref('match_parameters') }}

),

records as (

    select * from {{ ref('int_customer_records') }}

),

name_frequencies as (

    select * from {{ ref('int_customer_name_frequencies') }}

),

-- the records of each entity type when trained
trained_record_counts as (

    select
        entity_type,
        count(*) as trained_entity_records
    from records
    group by entity_type

),

-- how many records share the name of a typical named record (the average, over the named records, of
-- the records with their name: sum(c * c) / sum(c) over the names' counts c)
trained_name_counts as (

    select
        entity_type,
        sum(records_with_name * records_with_name)::double precision / sum(records_with_name)
            as records_with_name_typical
    from name_frequencies
    group by entity_type

),

patterns as (

    select
        entity_type,
        {% for comparison in comparisons %}
            {{ comparison }}_level,
        {% endfor %}
        count(*) as pair_count
    from comparisons
    group by
        entity_type,
        {{ comparisons | join('_level,\n        ') }}_level

),

-- the id only joins a pattern to its levels within this model
numbered_patterns as (

    select
        *,
        row_number() over () as pattern_id
    from patterns

),

pattern_levels as (

    {% for comparison in comparisons %}
        select
            pattern_id,
            entity_type,
            '{{ comparison }}' as comparison,
            {{ comparison }}_level as comparison_level,
            pair_count
        from numbered_patterns
        where {{ comparison }}_level is not null
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

entity_types as (

    select
        entity_type,
        sum(pair_count) as candidate_pairs
    from numbered_patterns
    group by entity_type

),

-- starting u: the share of each level among all candidate pairs
candidate_level_shares as (

    select
        entity_type,
        comparison,
        comparison_level,
        sum(pair_count)::double precision
        / sum(sum(pair_count)) over (partition by entity_type, comparison) as level_share
    from pattern_levels
    group by entity_type, comparison, comparison_level

),

all_levels as (

    select
        entity_types.entity_type,
        parameters.comparison,
        parameters.level as comparison_level,
        parameters.m_initial,
        parameters.m_override
    from entity_types
    cross join parameters

),

parameters_0 as (

    select
        all_levels.entity_type,
        all_levels.comparison,
        all_levels.comparison_level,
        all_levels.m_override,
        all_levels.m_initial,
        coalesce(all_levels.m_override, all_levels.m_initial)::double precision as m_probability,
        greatest(coalesce(candidate_level_shares.level_share, 0), {{ min_probability }})::double precision
            as u_probability
    from all_levels
    left join candidate_level_shares
        on
            all_levels.entity_type = candidate_level_shares.entity_type
            and all_levels.comparison = candidate_level_shares.comparison
            and all_levels.comparison_level = candidate_level_shares.comparison_level

),

prior_0 as (

    select
        entity_type,
        {{ var('em_initial_candidate_match_share', 0.3) }}::double precision as match_share
    from entity_types

),

{% for i in range(unrolled) %}
    -- E step: the probability that each pattern is a match under the current parameters
    log_odds_{{ i }} as (

        select
            numbered_patterns.pattern_id,
            numbered_patterns.entity_type,
            numbered_patterns.pair_count,
            ln(prior_{{ i }}.match_share / (1 - prior_{{ i }}.match_share))
            + coalesce(sum(ln(parameters_{{ i }}.m_probability / parameters_{{ i }}.u_probability)), 0) as log_odds
        from numbered_patterns
        inner join prior_{{ i }}
            on numbered_patterns.entity_type = prior_{{ i }}.entity_type
        left join pattern_levels
            on numbered_patterns.pattern_id = pattern_levels.pattern_id
        left join parameters_{{ i }}
            on
                pattern_levels.entity_type = parameters_{{ i }}.entity_type
                and pattern_levels.comparison = parameters_{{ i }}.comparison
                and pattern_levels.comparison_level = parameters_{{ i }}.comparison_level
        group by
            numbered_patterns.pattern_id,
            numbered_patterns.entity_type,
            numbered_patterns.pair_count,
            prior_{{ i }}.match_share

    ),

    posterior_{{ i }} as (

        select
            pattern_id,
            entity_type,
            pair_count,
            1 / (1 + exp(-least(greatest(log_odds, -50), 50))) as match_probability
        from log_odds_{{ i }}

    ),

    -- M step: expected count of each level among matching and non-matching pairs
    expected_level_counts_{{ i }} as (

        select
            pattern_levels.entity_type,
            pattern_levels.comparison,
            pattern_levels.comparison_level,
            sum(pattern_levels.pair_count * posterior_{{ i }}.match_probability) as expected_matches,
            sum(pattern_levels.pair_count * (1 - posterior_{{ i }}.match_probability)) as expected_non_matches
        from pattern_levels
        inner join posterior_{{ i }}
            on pattern_levels.pattern_id = posterior_{{ i }}.pattern_id
        group by pattern_levels.entity_type, pattern_levels.comparison, pattern_levels.comparison_level

    ),

    level_shares_{{ i }} as (

        select
            parameters_{{ i }}.entity_type,
            parameters_{{ i }}.comparison,
            parameters_{{ i }}.comparison_level,
            parameters_{{ i }}.m_override,
            parameters_{{ i }}.m_initial,
            parameters_{{ i }}.m_probability as previous_m_probability,
            parameters_{{ i }}.u_probability as previous_u_probability,
            coalesce(expected_level_counts_{{ i }}.expected_matches, 0) as expected_matches,
            coalesce(expected_level_counts_{{ i }}.expected_non_matches, 0) as expected_non_matches,
            sum(coalesce(expected_level_counts_{{ i }}.expected_matches, 0)) over (
                partition by parameters_{{ i }}.entity_type, parameters_{{ i }}.comparison
            ) as expected_matches_with_value,
            sum(coalesce(expected_level_counts_{{ i }}.expected_non_matches, 0)) over (
                partition by parameters_{{ i }}.entity_type, parameters_{{ i }}.comparison
            ) as expected_non_matches_with_value
        from parameters_{{ i }}
        left join expected_level_counts_{{ i }}
            on
                parameters_{{ i }}.entity_type = expected_level_counts_{{ i }}.entity_type
                and parameters_{{ i }}.comparison = expected_level_counts_{{ i }}.comparison
                and parameters_{{ i }}.comparison_level = expected_level_counts_{{ i }}.comparison_level

    ),

    -- m overrides stay fixed; a comparison never observed keeps its previous values
    parameters_{{ i + 1 }} as (

        select
            entity_type,
            comparison,
            comparison_level,
            m_override,
            m_initial,
            (case
                when m_override is not null then m_override
                when expected_matches_with_value > 0
                    then greatest(expected_matches / expected_matches_with_value, {{ min_probability }})
                else previous_m_probability
            end)::double precision as m_probability,
            (case
                when expected_non_matches_with_value > 0
                    then greatest(expected_non_matches / expected_non_matches_with_value, {{ min_probability }})
                else previous_u_probability
            end)::double precision as u_probability
        from level_shares_{{ i }}

    ),

    prior_{{ i + 1 }} as (

        select
            entity_type,
            least(greatest(
                sum(pair_count * match_probability) / sum(pair_count), 0.000001
            ), 0.999999)::double precision as match_share
        from posterior_{{ i }}
        group by entity_type

    ),

{% endfor %}

final as (

    select
        estimated.entity_type,
        estimated.comparison,
        estimated.comparison_level,
        estimated.m_probability,
        case when estimated.m_override is not null then 'seed_override' else 'expectation_maximisation' end
            as m_source,
        estimated.m_initial as m_initial_probability,
        estimated.u_probability as candidate_u_probability,
        final_share.match_share as candidate_match_share,
        entity_types.candidate_pairs,
        {{ iterations }} as em_iterations,
        trained_record_counts.trained_entity_records,
        trained_name_counts.records_with_name_typical,
        {{ match_training_columns(fingerprint, ref('int_customer_records')) }}
    from parameters_{{ unrolled }} as estimated
    inner join prior_{{ unrolled }} as final_share
        on estimated.entity_type = final_share.entity_type
    inner join entity_types
        on estimated.entity_type = entity_types.entity_type
    inner join trained_record_counts
        on estimated.entity_type = trained_record_counts.entity_type
    left join trained_name_counts
        on estimated.entity_type = trained_name_counts.entity_type

)

select * from {{ 'final' if train else 'trained' }}
