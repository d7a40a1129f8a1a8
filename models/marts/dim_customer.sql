{#-
    The golden customer: one row per active golden id, each canonical field chosen by survivorship
    (int_customer_field_winners) with the record it came from (<field>_source) and the rule that chose
    it (<field>_rule). Its timestamps come from the source records, so an unchanged source gives an
    identical row (the snapshot adds nothing); `built_at` alone says when a build last wrote the row
    (the snapshot does not check it), which sync_field_comparisons reads through its index to find the
    customers written since it compared them.

    Incremental per customer, as its survivorship: a customer's row is a function of its winners and its
    active records, and survivorship chooses a customer's winners again whenever any of those changed
    (each record's entered row, its change time, its golden id, the steward overrides). A build writes
    again only the customers whose winners were chosen after the newest `built_at` here, and deletes
    the customers no longer active; every customer again when this SQL or
    anything upstream of it changed (built_by), or with --full-refresh. The contract's primary key
    enforces one row per customer.
-#}
{%- set fields = survivorship_fields() -%}

{#- the steps below read only this list beyond the model's own file (whose checksum the fingerprint has) -#}
{%- set fingerprint = model_fingerprint(fields | join(',')) %}
{%- set extending = built_with_same_fingerprint(fingerprint, 'built_at', 'built_by') %}
{#- the customers no longer active are looked for among the golden id rows stamped since this table's
    last build (as in int_customer_field_winners) -#}
{{ changed_rows_config(
    ['customer_id'], 'int_customer_golden_ids', [], 'is_active', on_schema_change='append_new_columns',
    live_changed_since=['changed_at', 'built_at']
) }}
{{ config(post_hook=["{{ create_matching_index(this, ['built_at']) }}"]) }}

-- imports read twice (the customers' hashes, and the changed customers' rows): never materialized, so
-- the planner sees the tables and their statistics
with

golden_ids as (

    select * from {{ ref('int_customer_golden_ids') }}

),

records as (

    select * from {{ ref('int_customer_records') }}

),

winners as not materialized (

    select * from {{ ref('int_customer_field_winners') }}

),

-- the customers written again: those whose winners survivorship chose after this table's newest
-- `built_at` (all of a customer's winners are chosen together, and stamped with the build's start;
-- found by the index on chosen_at), or every customer when the table is built whole; with their hash
-- (every winner row of a customer has it)
changed as materialized (

    select
        customer_id,
        min(customer_hash::text)::uuid as customer_hash
    from winners
    {%- if extending %}
        where chosen_at > {{ built_through('built_at') }}
    {%- endif %}
    group by customer_id

),

customers as (

    select
        golden_ids.customer_id,
        min(records.entity_type) as entity_type,
        min(coalesce(records.source_created_at, records.loaded_at)) as first_seen_at,
        max(coalesce(records.source_updated_at, records.source_created_at, records.loaded_at)) as last_updated_at,
        count(*) as source_record_count
    from golden_ids
    inner join changed on golden_ids.customer_id = changed.customer_id
    inner join records on golden_ids.record_id = records.record_id
    where golden_ids.is_active
    group by golden_ids.customer_id

),

pivoted as (

    select
        {% for field in fields %}
            max(case when winners.field = '{{ field }}' then winners.field_value end) as {{ field }}_value,
            max(case when winners.field = '{{ field }}' then winners.source_record_id end) as {{ field }}_source,
            max(case when winners.field = '{{ field }}' then winners.winning_rule end) as {{ field }}_rule,
        {% endfor %}
        winners.customer_id
    from winners
    inner join changed on winners.customer_id = changed.customer_id
    group by winners.customer_id

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
        customers.source_record_count::integer as source_record_count,
        changed.customer_hash
    from customers
    inner join changed on customers.customer_id = changed.customer_id
    left join pivoted on customers.customer_id = pivoted.customer_id

),

with_fingerprint as (

    select
        final.*,
        {{ fingerprint_value(fingerprint) }} as built_by,
        {{ build_timestamp() }} as built_at
    from final

)

select * from with_fingerprint
