{#-
    The oversized blocks: the records of an entity type that share a blocking rule's key, when they are
    more than var('max_block_size'). Such a key is too common to be evidence and yields no pairs
    (int_customer_pairs): no key pairs every record with every other. The cap is a fixed number, so
    denser blocks still give more pairs per record as the records grow (docs/matching.md). One row per
    block that is oversized, or was at some build since the table was last counted whole and is usable
    again (is_oversized_block false): `usability_changed_at` is when the block last became oversized or
    usable again, and int_customer_pairs pairs the members of the blocks changed since its newest pair
    again (their keys did not change, their pairs did).

    Counted from its previous build's table (still in place while the new one is created): only the
    blocks it holds and the blocks of the keys int_customer_blocking_keys wrote since it was last built
    (`keyed_at` after its newest `counted_at`) are counted again. A block that is not here was usable at
    the last build; it can only have become oversized by gaining records, whose keys are new. A block
    whose size fell below two leaves. Every block is counted (a hash aggregate of every key, 1.1 s at
    100k persons where the recount of the changed blocks takes a few milliseconds) when the table is
    empty or built by another SQL or var('max_block_size') (`counted_by`), or with --full-refresh; a
    block not in the previous table that is oversized then is new to it (`usability_changed_at` the
    build's time), as is every block of a table built without a previous one.
-#}
{%- set max_block_size = var('max_block_size', 50) -%}
{#- the SQL of this file is in the fingerprint (its checksum); the cap is a var -#}
{%- set fingerprint = model_fingerprint('max_block_size=' ~ max_block_size) -%}
{%- set built = adapter.get_relation(this.database, this.schema, this.identifier) if execute else none -%}
{%- set built_columns = adapter.get_columns_in_relation(built) | map(attribute='name') | list if built else [] -%}
{%- set has_previous = 'usability_changed_at' in built_columns -%}
{#- the newest count, as a literal: the planner then estimates from the statistics how few keys are newer -#}
{%- set counted_through = none -%}
{%- if built is not none and 'counted_by' in built_columns and not should_full_refresh() -%}
    {%- set newest = run_query(
        "select max(counted_at)::text from " ~ built ~ " having bool_and(counted_by = '" ~ fingerprint ~ "')"
    ) -%}
    {%- if newest.rows | length > 0 and newest.rows[0][0] is not none -%}
        {%- set counted_through = newest.rows[0][0] -%}
    {%- endif -%}
{%- endif -%}

with

blocking_keys as not materialized (

    select * from {{ ref('int_customer_blocking_keys') }}

),

-- the previous build's blocks (none without a previous table)
previous as (

    {% if has_previous -%}
        select
            entity_type,
            blocking_rule,
            blocking_key,
            is_oversized_block,
            usability_changed_at
        from {{ built }}
    {%- else -%}
        select
            cast(null as text) as entity_type,
            cast(null as text) as blocking_rule,
            cast(null as text) as blocking_key,
            cast(null as boolean) as is_oversized_block,
            cast(null as timestamptz) as usability_changed_at
        where false
    {%- endif %}

),

{% if counted_through is not none %}
    -- the blocks counted again: those held here, and those of the keys written since the last count. Their
    -- members are found by the keys' index
    recounted as materialized (

        select
            entity_type,
            blocking_rule,
            blocking_key
        from previous
        union
        select
            entity_type,
            blocking_rule,
            blocking_key
        from blocking_keys
        where keyed_at > '{{ counted_through }}'::timestamptz

    ),

    blocks as (

        select
            recounted.entity_type,
            recounted.blocking_rule,
            recounted.blocking_key,
            count(*) as block_size
        from recounted
        inner join blocking_keys
            on
                recounted.blocking_key = blocking_keys.blocking_key
                and recounted.blocking_rule = blocking_keys.blocking_rule
                and recounted.entity_type = blocking_keys.entity_type
        group by recounted.blocking_key, recounted.blocking_rule, recounted.entity_type

    ),
{% else %}
    -- every block, counted by a hash aggregate (a window over the keys would sort them all)
    blocks as (

        select
            entity_type,
            blocking_rule,
            blocking_key,
            count(*) as block_size
        from blocking_keys
        group by blocking_key, blocking_rule, entity_type

    ),
{% endif %}

sized as (

    select
        entity_type,
        blocking_rule,
        blocking_key,
        block_size,
        block_size > {{ max_block_size }} as is_oversized_block
    from blocks
    where block_size > 1

),

final as (

    select
        sized.entity_type,
        sized.blocking_rule,
        sized.blocking_key,
        sized.block_size,
        sized.is_oversized_block,
        case
            when previous.is_oversized_block = sized.is_oversized_block then previous.usability_changed_at
            else now()
        end as usability_changed_at,
        now() as counted_at,
        {{ fingerprint_value(fingerprint) }} as counted_by
    from sized
    left join previous
        on
            sized.blocking_key = previous.blocking_key
            and sized.blocking_rule = previous.blocking_rule
            and sized.entity_type = previous.entity_type
    -- oversized, or was and is usable again
    where sized.is_oversized_block or previous.blocking_key is not null

)

select * from final
