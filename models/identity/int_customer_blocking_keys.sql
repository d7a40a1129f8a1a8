{#-
    One row per record and blocking rule: records that share a key become candidate pairs.
    Each rule is a cheap exact key; together they catch pairs that differ in any one field, and the
    fuzzy rules (initials, name prefixes, sound) survive a typo in a name. Blocks larger than
    var('max_block_size') are kept here with their size but produce no pairs.
-#}
{%- set blocking_rules = blocking_rule_keys() -%}

with

records as (

    select * from {{ ref('int_customer_records') }}

),

keys as (

    {% for rule, expression in blocking_rules.items() %}
        select
            record_id,
            entity_type,
            '{{ rule }}' as blocking_rule,
            {{ expression }} as blocking_key
        from records
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

present_keys as (

    select * from keys
    where blocking_key is not null

),

sized as (

    select
        *,
        -- the key first: it tells most rows apart, so the sort seldom compares the other two
        count(*) over (partition by blocking_key, blocking_rule, entity_type) as block_size
    from present_keys

),

final as (

    select
        record_id,
        entity_type,
        blocking_rule,
        blocking_key,
        block_size,
        block_size > {{ var('max_block_size', 50) }} as is_oversized_block
    from sized

)

select * from final
