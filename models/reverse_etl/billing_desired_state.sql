-- Billing (Stripe) as the golden record wants it: one row per customer and mapped parameter, named as
-- the form-encoded update takes it (address[line1], metadata[golden_id]), next to the value as landed.
{%- set field_map = [
    ('golden_id', 'metadata[golden_id]', 'metadata__golden_id', none),
    ('full_name', 'name', 'name', 'person'),
    ('company_name', 'name', 'name', 'company'),
    ('email', 'email', 'email', none),
    ('phone', 'phone', 'phone', none),
    ('address_line1', 'address[line1]', 'address__line1', none),
    ('address_line2', 'address[line2]', 'address__line2', none),
    ('city', 'address[city]', 'address__city', none),
    ('postcode', 'address[postal_code]', 'address__postal_code', none),
    ('region', 'address[state]', 'address__state', none),
    ('country_code', 'address[country]', 'address__country', none),
] %}

with

comparisons as (
    select * from {{ ref('sync_field_comparisons') }}
    where target_system = 'billing'
),

customers as (
    select * from {{ source('raw_billing', 'customers') }}
),

field_map as (
    select *
    from (
        values
        {% for field, native_field, raw_column, entity_type in field_map %}
            (
                '{{ field }}',
                '{{ native_field }}',
                {% if entity_type %}'{{ entity_type }}'{% else %}cast(null as text){% endif %}
            ){% if not loop.last %},{% endif %}
        {% endfor %}
    ) as field_map (field, native_field, entity_type)
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
            {% for field, native_field, raw_column, entity_type in field_map %}
                {%- if native_field != 'name' or entity_type == 'person' %}
                    ('{{ native_field }}', cast(customers.{{ raw_column }} as text)){% if not loop.last %},{% endif %}
                {%- endif %}
            {% endfor %}
        ) as landed (native_field, landed_value)
),

mapped as (
    select
        comparisons.*,
        field_map.native_field
    from comparisons
    inner join field_map
        on
            comparisons.field = field_map.field
            and (field_map.entity_type is null or comparisons.entity_type = field_map.entity_type)
),

final as (
    select
        mapped.target_system,
        mapped.object_type,
        mapped.record_id,
        mapped.source_record_id,
        mapped.customer_id,
        mapped.field,
        mapped.native_field,
        mapped.owned_by,
        -- Stripe takes strings; address[country] is ISO alpha-2, which the golden country code already is
        mapped.golden_value as desired_value,
        landed_values.landed_value,
        landed_values.landed_load_id,
        mapped.golden_value,
        mapped.current_value,
        mapped.is_different,
        mapped.is_target_newer,
        mapped.is_hub_write,
        mapped.source_updated_at as landed_updated_at
    from mapped
    left join landed_values
        on
            mapped.source_record_id = landed_values.source_record_id
            and mapped.native_field = landed_values.native_field
)

select * from final
