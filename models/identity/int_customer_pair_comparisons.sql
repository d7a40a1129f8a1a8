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
        {{ comparison_levels() }}
    from paired

)

select * from compared
