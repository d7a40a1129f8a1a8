-- Billing (Stripe) as the golden record wants it: one row per customer and mapped parameter, named as
-- the form-encoded update takes it (address[line1], metadata[golden_id]), next to the value as landed.
{#- (field, native parameter, entity type it is for or none for both, landed column) #}
{%- set field_map = [
    ('golden_id', 'metadata[golden_id]', none, 'metadata__golden_id'),
    ('full_name', 'name', 'person', 'name'),
    ('company_name', 'name', 'company', 'name'),
    ('email', 'email', none, 'email'),
    ('phone', 'phone', none, 'phone'),
    ('address_line1', 'address[line1]', none, 'address__line1'),
    ('address_line2', 'address[line2]', none, 'address__line2'),
    ('city', 'address[city]', none, 'address__city'),
    ('postcode', 'address[postal_code]', none, 'address__postal_code'),
    ('region', 'address[state]', none, 'address__state'),
    ('country_code', 'address[country]', none, 'address__country'),
] %}

{%- set fingerprint = desired_state_fingerprint() %}
{{ desired_state_config() }}

with

all_comparisons as not materialized (
    select * from {{ ref('sync_field_comparisons') }}
    where target_system = 'billing'
),

customers as (
    select * from {{ source('raw_billing', 'customers') }}
),

{{ desired_state_changed_ctes('all_comparisons', fingerprint) }}

field_map as (
    {{ sync_field_map_values(field_map, ['field', 'native_field', 'entity_type']) }}
),

landed_values as (
    select
        cast(customers.id as text) as source_record_id,
        cast(customers._dlt_load_id as text) as landed_load_id,
        landed.native_field,
        landed.landed_value
    from customers
    cross join
        lateral (
            values
            {% for field, native_field, entity_type, raw_column in field_map %}
                {%- if native_field != 'name' or entity_type == 'person' %}
                    ('{{ native_field }}', cast(customers.{{ raw_column }} as text)){% if not loop.last %},{% endif %}
                {%- endif %}
            {% endfor %}
        ) as landed (native_field, landed_value)
    -- only the records planned in this build
    where cast(customers.id as text) in (select changed.source_record_id from changed)
),

mapped as (
    {{ sync_mapped_comparisons(keyed_by='entity_type') }}
),

final as (
    -- Stripe takes strings; address[country] is ISO alpha-2, which the golden country code already is
    {{ desired_state_final(keyed_by='entity_type', desired_value='mapped.golden_value', fingerprint=fingerprint) }}
)

select * from final
