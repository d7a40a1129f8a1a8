{#-
    Steward field overrides resolved to current customers. An override names the customer id it was
    made on; when that id was later merged into another, the override follows the merge (up to
    var('override_merge_hops') merges in a row). Every override is kept with is_applied and, when it
    is not applied, the reason: unknown field, unknown customer, or superseded by a later override of
    the same customer and field.
-#}
{%- set hops = var('override_merge_hops', 5) -%}

with

overrides as (

    select * from {{ ref('steward_field_overrides') }}

),

history as (

    select * from {{ ref('customer_id_history') }}

),

rules as (

    select * from {{ ref('survivorship_rules') }}

),

golden_ids as (

    select * from {{ ref('int_customer_golden_ids') }}

),

merge_events as (

    select
        old_customer_id,
        max(new_customer_id) as new_customer_id
    from history
    where event_type = 'merge'
    group by old_customer_id

),

active_customers as (

    select distinct customer_id from golden_ids
    where is_active

),

resolved_0 as (

    select
        customer_id as original_customer_id,
        customer_id,
        field,
        value,
        reason,
        decided_by,
        decided_at
    from overrides

),

{% for hop in range(1, hops + 1) %}
    resolved_{{ hop }} as (

        select
            resolved_{{ hop - 1 }}.original_customer_id,
            coalesce(merge_events.new_customer_id, resolved_{{ hop - 1 }}.customer_id) as customer_id,
            resolved_{{ hop - 1 }}.field,
            resolved_{{ hop - 1 }}.value,
            resolved_{{ hop - 1 }}.reason,
            resolved_{{ hop - 1 }}.decided_by,
            resolved_{{ hop - 1 }}.decided_at
        from resolved_{{ hop - 1 }}
        left join merge_events on resolved_{{ hop - 1 }}.customer_id = merge_events.old_customer_id

    ),

{% endfor %}
ranked as (

    select
        resolved_{{ hops }}.*,
        active_customers.customer_id is not null as is_known_customer,
        rules.field is not null as is_known_field,
        row_number() over (
            partition by resolved_{{ hops }}.customer_id, resolved_{{ hops }}.field
            order by resolved_{{ hops }}.decided_at desc nulls last, resolved_{{ hops }}.value asc
        ) as recency_rank
    from resolved_{{ hops }}
    left join active_customers on resolved_{{ hops }}.customer_id = active_customers.customer_id
    left join rules on resolved_{{ hops }}.field = rules.field

),

final as (

    select
        original_customer_id,
        customer_id,
        field,
        value,
        reason,
        decided_by,
        decided_at,
        is_known_customer and is_known_field and recency_rank = 1 as is_applied,
        case
            when not is_known_field then 'unknown field'
            when not is_known_customer then 'unknown customer'
            when recency_rank > 1 then 'superseded by a later override'
        end as not_applied_reason
    from ranked

)

select * from final
