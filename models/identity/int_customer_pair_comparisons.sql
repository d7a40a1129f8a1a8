{#-
    The comparison vector of every candidate pair: one graded level per field (see
    macros/matching/comparisons.sql and seeds/match_parameters.csv).
-#}

with

pairs as (

    select * from {{ ref('int_customer_pairs') }}

),

records as (

    select * from {{ ref('int_customer_records') }}

),

paired as (

    select
        pairs.blocking_rules,
        {{ paired_record_columns('l', 'r') }}
    from pairs
    inner join records as l on pairs.record_id_l = l.record_id
    inner join records as r on pairs.record_id_r = r.record_id

),

compared as (

    select
        record_id_l,
        record_id_r,
        entity_type_l as entity_type,
        blocking_rules,
        is_name_swapped,
        case
            when name_tokens_sorted_l = name_tokens_sorted_r
                then name_frequency_typical_l / nullif(greatest(name_frequency_l, name_frequency_r), 0)
        end as name_frequency_ratio,
        {{ comparison_levels() }}
    from paired

)

select * from compared
