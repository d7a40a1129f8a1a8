{{ config(pre_hook="set local work_mem = '" ~ var('pairing_work_mem') ~ "'") }}

{#-
    Candidate pairs: records of the same entity type sharing at least one blocking key, each pair once
    (record_id_l < record_id_r) with the rules that found it. Oversized blocks are skipped, so the
    number of pairs grows with the number of records, not with its square.
-#}

with

blocking_keys as (

    select * from {{ ref('int_customer_blocking_keys') }}

),

blocks as (

    select * from {{ ref('int_customer_blocks') }}

),

-- the keys of blocks that yield pairs: two records or more, and not oversized. Read twice and not
-- materialized: each side is then a hash join of the tables, which the planner can run in parallel
usable_keys as not materialized (

    select
        blocking_keys.record_id,
        blocking_keys.entity_type,
        blocking_keys.blocking_rule,
        blocking_keys.blocking_key
    from blocking_keys
    inner join blocks
        on
            blocking_keys.blocking_key = blocks.blocking_key
            and blocking_keys.blocking_rule = blocks.blocking_rule
            and blocking_keys.entity_type = blocks.entity_type
    where not blocks.is_oversized_block

),

key_pairs as (

    select
        l.record_id as record_id_l,
        r.record_id as record_id_r,
        l.entity_type,
        l.blocking_rule
    from usable_keys as l
    inner join usable_keys as r
        -- the key first: a merge join then sorts by it, which tells most rows apart at once
        on
            l.blocking_key = r.blocking_key
            and l.blocking_rule = r.blocking_rule
            and l.entity_type = r.entity_type
            and l.record_id < r.record_id

),

-- a record has one key per rule, so a pair meets each rule at most once
rules_per_pair as (

    select
        record_id_l,
        record_id_r,
        entity_type,
        bit_or({{ blocking_rule_bit('blocking_rule') }}) as blocking_rule_bits,
        count(*) as blocking_rule_count
    from key_pairs
    group by record_id_l, record_id_r, entity_type

),

final as (

    select
        record_id_l,
        record_id_r,
        entity_type,
        {{ blocking_rule_names('blocking_rule_bits') }} as blocking_rules,
        blocking_rule_count
    from rules_per_pair

)

select * from final
