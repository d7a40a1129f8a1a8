{{ config(pre_hook="set local work_mem = '" ~ var('pairing_work_mem') ~ "'") }}

{#-
    The blocks: the records of an entity type that share a blocking rule's key, with how many they are.
    Only blocks of two records or more (one record pairs with no one). A block of more than
    var('max_block_size') records is oversized: its key is too common to be evidence, and it yields no
    pairs (int_customer_pairs), so the number of pairs grows with the records, not with their square.
-#}

with

blocking_keys as (

    select * from {{ ref('int_customer_blocking_keys') }}

),

-- counted by a hash aggregate (a window over the keys would sort them all)
blocks as (

    select
        entity_type,
        blocking_rule,
        blocking_key,
        count(*) as block_size
    from blocking_keys
    group by blocking_key, blocking_rule, entity_type
    having count(*) > 1

),

final as (

    select
        entity_type,
        blocking_rule,
        blocking_key,
        block_size,
        block_size > {{ var('max_block_size', 50) }} as is_oversized_block
    from blocks

)

select * from final
