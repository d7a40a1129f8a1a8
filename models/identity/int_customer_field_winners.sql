{#-
    Survivorship: for every customer and canonical field, the value that wins and why.
    Candidates are the non-empty values of the customer's records; seeds/survivorship_rules.csv gives
    each field a rule and a source priority (systems separated by '>'):
      source_priority  the highest-priority system, then the most recent record;
      most_recent      the most recently updated record, then priority;
      most_complete    the record with the most filled parts of the field's group (the address lines,
                       city, postcode, region and country; the three names), then priority, then recency;
      valid_first      a value that passed staging's validity rule (email, phone), then priority, recency.
    Recency is when people last changed the record (int_customer_record_change_times): a write-back of
    the hub does not make a record the most recent. Ties end on record_id, so the choice never depends
    on row order. A steward override
    (seeds/steward_field_overrides.csv) wins over every rule, with rule 'steward_override'.
-#}
{%- set fields = survivorship_fields() -%}
{%- set address_fields = ['address_line1', 'address_line2', 'city', 'postcode', 'region', 'country_code'] -%}
{%- set name_fields = ['first_name', 'last_name', 'full_name'] -%}

with

records as (

    select * from {{ ref('int_customer_records') }}

),

golden_ids as (

    select * from {{ ref('int_customer_golden_ids') }}

),

rules as (

    select * from {{ ref('survivorship_rules') }}

),

overrides as (

    select * from {{ ref('int_customer_steward_overrides') }}

),

change_times as (

    select * from {{ ref('int_customer_record_change_times') }}

),

customer_records as (

    select
        golden_ids.customer_id,
        records.*,
        -- recency as people changed the record: the hub's own write-backs do not make it newer
        coalesce(change_times.last_changed_at, records.source_updated_at) as changed_at,
        (
            {%- for column in address_fields %}
                (case when records.{{ column }} is not null then 1 else 0 end){{ ' +' if not loop.last }}
            {%- endfor %}
        ) as address_completeness,
        (
            {%- for column in name_fields %}
                (case when records.{{ column }} is not null then 1 else 0 end){{ ' +' if not loop.last }}
            {%- endfor %}
        ) as name_completeness
    from records
    inner join golden_ids
        on records.record_id = golden_ids.record_id
    left join change_times
        on records.record_id = change_times.record_id
    where golden_ids.is_active

),

-- one row per record and filled field (one pass over the records)
candidates as (

    select
        customer_records.customer_id,
        customer_records.record_id,
        customer_records.source_system,
        customer_records.changed_at,
        field_values.field,
        field_values.field_value,
        field_values.is_valid,
        field_values.completeness
    from customer_records
    cross join
        lateral (
            values
            {% for field in fields %}
                (
                    '{{ field }}',
                    nullif(trim(customer_records.{{ field }}::text), ''),
                    {% if field == 'email' -%}
                        coalesce(customer_records.is_email_valid, false)
                    {%- elif field == 'phone' -%}
                        coalesce(customer_records.is_phone_valid, false)
                    {%- else -%}
                        true
                    {%- endif %},
                    {% if field in address_fields -%}
                        customer_records.address_completeness
                    {%- elif field in name_fields -%}
                        customer_records.name_completeness
                    {%- else -%}
                        1
                    {%- endif %}
                ){% if not loop.last %},{% endif %}
            {% endfor %}
        ) as field_values (field, field_value, is_valid, completeness)
    where field_values.field_value is not null

),

ruled_candidates as (

    -- each candidate with its field's rule and the rank of its system in the field's priority
    select
        candidates.*,
        rules.rule as winning_rule,
        coalesce(
            nullif(position('>' || candidates.source_system || '>' in '>' || rules.source_priority || '>'), 0),
            1000000
        ) as source_rank
    from candidates
    inner join rules on candidates.field = rules.field

),

ranked as (

    select
        customer_id,
        field,
        field_value,
        record_id as source_record_id,
        winning_rule,
        row_number() over (
            partition by customer_id, field
            order by
                case when winning_rule = 'valid_first' and not is_valid then 1 else 0 end asc,
                case when winning_rule = 'most_complete' then completeness else 0 end desc,
                case when winning_rule = 'most_recent' then changed_at end desc nulls last,
                source_rank asc,
                changed_at desc nulls last,
                record_id asc
        ) as candidate_rank
    from ruled_candidates

),

rule_winners as (

    select
        customer_id,
        field,
        field_value,
        source_record_id,
        winning_rule
    from ranked
    where candidate_rank = 1

),

final as (

    select
        overrides.customer_id,
        overrides.field,
        overrides.value as field_value,
        'steward:' || coalesce(overrides.decided_by, 'unknown') as source_record_id,
        'steward_override' as winning_rule
    from overrides
    where overrides.is_applied
    union all
    select rule_winners.*
    from rule_winners
    left join overrides
        on
            rule_winners.customer_id = overrides.customer_id
            and rule_winners.field = overrides.field
            and overrides.is_applied
    where overrides.customer_id is null

)

select * from final
