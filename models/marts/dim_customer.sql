{#-
    The golden customer: one row per active golden id, each canonical field chosen by survivorship
    (int_customer_field_winners) with the record it came from (<field>_source) and the rule that chose
    it (<field>_rule). Timestamps come from the source records, never from the build, so an unchanged
    source gives an identical row (the snapshot adds nothing).
-#}
{%- set fields = survivorship_fields() -%}

with

golden_ids as (

    select * from {{ ref('int_customer_golden_ids') }}

),

records as (

    select * from {{ ref('int_customer_records') }}

),

winners as (

    select * from {{ ref('int_customer_field_winners') }}

),

customers as (

    select
        golden_ids.customer_id,
        min(records.entity_type) as entity_type,
        min(coalesce(records.source_created_at, records.loaded_at)) as first_seen_at,
        max(coalesce(records.source_updated_at, records.source_created_at, records.loaded_at)) as last_updated_at,
        count(*) as source_record_count
    from golden_ids
    inner join records on golden_ids.record_id = records.record_id
    where golden_ids.is_active
    group by golden_ids.customer_id

),

pivoted as (

    select
        {% for field in fields %}
            max(case when field = '{{ field }}' then field_value end) as {{ field }}_value,
            max(case when field = '{{ field }}' then source_record_id end) as {{ field }}_source,
            max(case when field = '{{ field }}' then winning_rule end) as {{ field }}_rule,
        {% endfor %}
        customer_id
    from winners
    group by customer_id

),

final as (

    select
        customers.customer_id::text as customer_id,
        customers.entity_type::text as entity_type,
        {% for field in fields %}
            pivoted.{{ field }}_value::{{ 'date' if field == 'birth_date' else 'text' }} as {{ field }},
        {% endfor %}
        {% for field in fields %}
            pivoted.{{ field }}_source::text as {{ field }}_source,
            pivoted.{{ field }}_rule::text as {{ field }}_rule,
        {% endfor %}
        customers.first_seen_at::timestamp with time zone as first_seen_at,
        customers.last_updated_at::timestamp with time zone as last_updated_at,
        customers.source_record_count::integer as source_record_count
    from customers
    left join pivoted on customers.customer_id = pivoted.customer_id

)

select * from final
