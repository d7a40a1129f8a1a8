{#-
    The matching decision, read by clustering: candidate pairs scoring at least
    var('match_threshold_probability'), plus the stewards' must-match pairs, minus their must-not-match
    pairs. Steward pairs outrank the model: must-match pairs get var('steward_match_weight').
-#}
{#- statistics on what its readers join and filter on (macros/analyze_after_build.sql): the match graph's
    edges by their records, and each match's rule -#}
{{ config(meta={'analyze_columns': ['record_id_l', 'record_id_r', 'entity_type', 'match_rule']}) }}

with

scores as (

    select * from {{ ref('int_customer_pair_scores') }}

),

steward_rules as (

    select * from {{ ref('steward_match_rules') }}

),

-- read in place at each of its three joins (not materialized): the few steward pairs then find their
-- records by the table's index, where a materialized CTE copied every record's every column first (the
-- model took 0.8-1.0 s at 100k persons)
records as not materialized (

    select
        record_id,
        entity_type
    from {{ ref('int_customer_records') }}

),

-- steward pairs in the same order as candidate pairs, and only between records that exist
steward_pairs as (

    select
        least(steward_rules.record_id_a, steward_rules.record_id_b) as record_id_l,
        greatest(steward_rules.record_id_a, steward_rules.record_id_b) as record_id_r,
        steward_rules.rule
    from steward_rules
    inner join records as record_a on steward_rules.record_id_a = record_a.record_id
    inner join records as record_b on steward_rules.record_id_b = record_b.record_id
    where steward_rules.record_id_a <> steward_rules.record_id_b

),

must_not_match as (

    select distinct
        record_id_l,
        record_id_r
    from steward_pairs
    where rule = 'must_not_match'

),

probabilistic_matches as (

    select
        record_id_l,
        record_id_r,
        entity_type,
        match_weight,
        match_probability,
        'probabilistic' as match_rule
    from scores
    where match_probability >= {{ var('match_threshold_probability', 0.9) }}

),

steward_matches as (

    select distinct
        steward_pairs.record_id_l,
        steward_pairs.record_id_r,
        records.entity_type,
        {{ var('steward_match_weight', 99.0) }}::double precision as match_weight,
        1.0::double precision as match_probability,
        'steward_must_match' as match_rule
    from steward_pairs
    inner join records on steward_pairs.record_id_l = records.record_id
    where steward_pairs.rule = 'must_match'

),

combined as (

    select * from steward_matches
    union all
    select probabilistic_matches.* from probabilistic_matches
    left join steward_matches
        on
            probabilistic_matches.record_id_l = steward_matches.record_id_l
            and probabilistic_matches.record_id_r = steward_matches.record_id_r
    where steward_matches.record_id_l is null

),

final as (

    select combined.*
    from combined
    left join must_not_match
        on
            combined.record_id_l = must_not_match.record_id_l
            and combined.record_id_r = must_not_match.record_id_r
    where must_not_match.record_id_l is null

)

select * from final
