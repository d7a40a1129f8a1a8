{{ config(pre_hook="set local work_mem = '" ~ var('pairing_work_mem') ~ "'") }}

{#-
    The blocks: the records of an entity type that share a blocking rule's key, with how many they are.
    Only blocks of two records or more (one record pairs with no one). A block of more than
    var('max_block_size') records is oversized: its key is too common to be evidence, and it yields no
    pairs (int_customer_pairs): no key pairs every record with every other. The cap is a fixed number,
    so denser blocks still give more pairs per record as the records grow (docs/matching.md).

    `usability_changed_at`: when the block last became oversized, or usable again. The blocks are
    counted whole on every build; the previous build's table (this model, still in place while its new
    version is created) tells which blocks crossed the size limit since. A block that crosses it
    changes the pairs of records whose keys did not change, and int_customer_pairs, which pairs only
    the records keyed since its last build, reads it to pair those records again. A block new since
    the previous build has '-infinity': every record of it but one at most was keyed since (it gained
    the key), and so is paired again anyway. Without a previous table, every block has the build's time.
-#}
{%- set built = adapter.get_relation(this.database, this.schema, this.identifier) if execute else none -%}
{%- set built_columns = adapter.get_columns_in_relation(built) | map(attribute='name') | list if built else [] -%}
{%- set has_built_blocks = 'usability_changed_at' in built_columns -%}

with

blocking_keys as (

    select * from {{ ref('int_customer_blocking_keys') }}

),

{% if has_built_blocks %}
built_blocks as (

    select
        entity_type,
        blocking_rule,
        blocking_key,
        is_oversized_block,
        usability_changed_at
    from {{ this }}

),
{% endif %}

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

sized as (

    select
        entity_type,
        blocking_rule,
        blocking_key,
        block_size,
        block_size > {{ var('max_block_size', 50) }} as is_oversized_block
    from blocks

),

final as (

    select
        sized.entity_type,
        sized.blocking_rule,
        sized.blocking_key,
        sized.block_size,
        sized.is_oversized_block,
        {% if has_built_blocks -%}
            case
                -- a new block: at most one of its records is not keyed since, and that one's pairs
                -- with the others are found from their side
                when built_blocks.is_oversized_block is null then '-infinity'::timestamptz
                when built_blocks.is_oversized_block = sized.is_oversized_block
                    then built_blocks.usability_changed_at
                else now()
            end
        {%- else -%}
            now()
        {%- endif %} as usability_changed_at
    from sized
    {% if has_built_blocks -%}
        left join built_blocks
            on
                sized.blocking_key = built_blocks.blocking_key
                and sized.blocking_rule = built_blocks.blocking_rule
                and sized.entity_type = built_blocks.entity_type
    {%- endif %}

)

select * from final
