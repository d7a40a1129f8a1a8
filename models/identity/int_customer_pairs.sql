{#-
    Candidate pairs: records of the same entity type sharing at least one blocking key, each pair once
    (record_id_l < record_id_r) with the rules that found it. Oversized blocks are skipped, so the
    number of pairs grows with the number of records, not with its square.
-#}

with

blocking_keys as (

    select * from {{ ref('int_customer_blocking_keys') }}

),

usable_keys as (

    select * from blocking_keys
    where block_size > 1
        and not is_oversized_block

),

key_pairs as (

    select
        l.record_id as record_id_l,
        r.record_id as record_id_r,
        l.entity_type,
        l.blocking_rule
    from usable_keys as l
    inner join usable_keys as r
        on
            l.entity_type = r.entity_type
            and l.blocking_rule = r.blocking_rule
            and l.blocking_key = r.blocking_key
            and l.record_id < r.record_id

),

final as (

    select
        record_id_l,
        record_id_r,
        entity_type,
        string_agg(distinct blocking_rule, ',' order by blocking_rule) as blocking_rules,
        count(distinct blocking_rule) as blocking_rule_count
    from key_pairs
    group by record_id_l, record_id_r, entity_type

)

select * from final
