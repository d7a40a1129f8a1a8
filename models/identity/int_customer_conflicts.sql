{#-
    Pairs of records that must not be one customer although the match graph connects them (directly or
    through other records): a national id or a birth date that differ by more than a typing error
    (level 0 of compare_national_id / compare_birth_date), or a steward's must_not_match decision.
    A steward who must-matched two records directly accepted their differences: that pair's value
    conflict is waived (a chain through them is still guarded).
    Only records inside the same component are compared, so the cost follows component sizes.
-#}

with

-- read in place at each of its uses (not materialized): a materialized CTE first copied every row with
-- every column (the model took 0.51 s at 100k persons instead of 0.32 s, with the same rows)
components as not materialized (

    select * from {{ ref('int_customer_components') }}

),

records as (

    select * from {{ ref('int_customer_records') }}

),

steward_rules as (

    select * from {{ ref('steward_match_rules') }}

),

carriers as (

    -- only records carrying a value that can conflict, in components of more than one record
    select
        components.component_id,
        records.record_id,
        records.birth_date,
        records.national_id_key
    from components
    inner join records on components.record_id = records.record_id
    where
        components.component_size > 1
        and (records.birth_date is not null or records.national_id_key is not null)

),

carrier_pairs as (

    select
        carrier_l.component_id,
        carrier_l.record_id as record_id_l,
        carrier_r.record_id as record_id_r,
        carrier_l.birth_date as birth_date_l,
        carrier_r.birth_date as birth_date_r,
        carrier_l.national_id_key as national_id_key_l,
        carrier_r.national_id_key as national_id_key_r
    from carriers as carrier_l
    inner join carriers as carrier_r
        on
            carrier_l.component_id = carrier_r.component_id
            and carrier_l.record_id < carrier_r.record_id

),

value_conflicts as (

    select
        component_id,
        record_id_l,
        record_id_r,
        case
            when {{ compare_national_id() }} = 0 then 'national_id'
            when {{ compare_birth_date() }} = 0 then 'birth_date'
        end as conflict_reason
    from carrier_pairs

),

steward_pairs as (

    select distinct
        least(record_id_a, record_id_b) as record_id_l,
        greatest(record_id_a, record_id_b) as record_id_r,
        rule
    from steward_rules
    where record_id_a <> record_id_b

),

steward_conflicts as (

    select
        component_l.component_id,
        steward_pairs.record_id_l,
        steward_pairs.record_id_r,
        'steward_must_not_match' as conflict_reason
    from steward_pairs
    inner join components as component_l on steward_pairs.record_id_l = component_l.record_id
    inner join components as component_r on steward_pairs.record_id_r = component_r.record_id
    where
        steward_pairs.rule = 'must_not_match'
        and component_l.component_id = component_r.component_id

),

all_conflicts as (

    -- a steward's decision on the pair (must-not-match: the reason shown; must-match: waived) wins
    select * from steward_conflicts
    union all
    select value_conflicts.*
    from value_conflicts
    left join steward_pairs
        on
            value_conflicts.record_id_l = steward_pairs.record_id_l
            and value_conflicts.record_id_r = steward_pairs.record_id_r
    where
        value_conflicts.conflict_reason is not null
        and steward_pairs.record_id_l is null

),

final as (

    select
        component_id,
        record_id_l,
        record_id_r,
        conflict_reason
    from all_conflicts

)

select * from final
