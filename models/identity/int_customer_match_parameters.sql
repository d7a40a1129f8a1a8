{#-
    The Fellegi-Sunter model, one row per entity type, comparison and level: m and u probabilities,
    the level's match weight log2(m / u), and the prior match weight of the entity type. The prior is
    the chance that two random records of the type are the same customer: the matches EM expects among
    the candidate pairs over all possible pairs, both as trained (int_customer_m_probabilities keeps the
    records of each entity type it was trained on): the prior moves when the parameters are trained
    again, not with every record added, so the pairs a build did not compare again keep their score.
-#}

with

m_probabilities as (

    select * from {{ ref('int_customer_m_probabilities') }}

),

u_probabilities as (

    select * from {{ ref('int_customer_u_probabilities') }}

),

parameters as (

    select * from {{ ref('match_parameters') }}

),

priors as (

    select
        m_probabilities.entity_type,
        max(m_probabilities.candidate_match_share * m_probabilities.candidate_pairs) as expected_matching_pairs,
        max(
            m_probabilities.trained_entity_records::double precision
            * (m_probabilities.trained_entity_records - 1) / 2
        ) as possible_pairs,
        max(m_probabilities.records_with_name_typical) as records_with_name_typical
    from m_probabilities
    group by m_probabilities.entity_type

),

prior_probabilities as (

    select
        entity_type,
        expected_matching_pairs,
        possible_pairs,
        least(greatest(expected_matching_pairs / nullif(possible_pairs, 0), 1e-12), 0.5) as prior_match_probability,
        records_with_name_typical
    from priors

),

final as (

    select
        m_probabilities.entity_type,
        m_probabilities.comparison,
        m_probabilities.comparison_level,
        parameters.label as comparison_label,
        m_probabilities.m_probability,
        u_probabilities.u_probability,
        m_probabilities.m_source,
        u_probabilities.u_source,
        m_probabilities.m_probability / u_probabilities.u_probability as bayes_factor,
        log(2.0, (m_probabilities.m_probability / u_probabilities.u_probability)::numeric)::double precision
            as match_weight,
        prior_probabilities.prior_match_probability,
        log(
            2.0,
            (prior_probabilities.prior_match_probability / (1 - prior_probabilities.prior_match_probability))::numeric
        )::double precision as prior_match_weight,
        prior_probabilities.expected_matching_pairs,
        prior_probabilities.records_with_name_typical,
        m_probabilities.candidate_pairs,
        m_probabilities.em_iterations
    from m_probabilities
    inner join u_probabilities
        on
            m_probabilities.entity_type = u_probabilities.entity_type
            and m_probabilities.comparison = u_probabilities.comparison
            and m_probabilities.comparison_level = u_probabilities.comparison_level
    inner join parameters
        on
            m_probabilities.comparison = parameters.comparison
            and m_probabilities.comparison_level = parameters.level
    inner join prior_probabilities
        on m_probabilities.entity_type = prior_probabilities.entity_type

)

select * from final
