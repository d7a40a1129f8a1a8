-- The ERP (Odoo res.partner) as the golden record wants it: one row per partner and mapped column, with
-- country_id looked up in res_country by ISO code, next to the value as landed.
{%- set field_map = [
    ('golden_id', 'ref', none),
    ('full_name', 'name', 'person'),
    ('company_name', 'name', 'company'),
    ('email', 'email', none),
    ('phone', 'phone', none),
    ('address_line1', 'street', none),
    ('address_line2', 'street2', none),
    ('postcode', 'zip', none),
    ('city', 'city', none),
    ('region', 'state_name', none),
    ('country_code', 'country_id', none),
    ('national_id', 'vat', none),
] -%}
{%- set landed_columns = ['ref', 'name', 'email', 'phone', 'street', 'street2', 'zip', 'city', 'state_name',
                          'country_id', 'vat'] %}

with

comparisons as (
    select * from {{ ref('sync_field_comparisons') }}
    where target_system = 'erp'
),

partners as (
    select * from {{ source('raw_erp', 'res_partner') }}
),

countries as (
    select * from {{ source('raw_erp', 'res_country') }}
),

field_map as (
    select *
    from (
        values
        {% for field, native_field, entity_type in field_map %}
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
        cast(partners.id as text) as source_record_id,
        cast(partners._dlt_load_id as text) as landed_load_id,
        landed.native_field,
        landed.landed_value
    from partners
    cross join
        lateral (
            values
            {% for column in landed_columns %}
                ('{{ column }}', cast(partners.{{ column }} as text)){% if not loop.last %},{% endif %}
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

-- many2one: Odoo stores the country as a res_country id; a code the ERP does not know gives no value
desired as (
    select
        mapped.*,
        case
            when mapped.native_field = 'country_id' then cast(countries.id as text)
            else mapped.golden_value
        end as desired_value
    from mapped
    left join countries
        on
            mapped.native_field = 'country_id'
            and upper(mapped.golden_value) = upper(countries.code)
),

final as (
    select
        desired.target_system,
        desired.object_type,
        desired.record_id,
        desired.source_record_id,
        desired.customer_id,
        desired.field,
        desired.native_field,
        desired.owned_by,
        desired.desired_value,
        landed_values.landed_value,
        landed_values.landed_load_id,
        desired.golden_value,
        desired.current_value,
        desired.is_different,
        desired.is_target_newer,
        desired.is_hub_write,
        desired.source_updated_at as landed_updated_at
    from desired
    left join landed_values
        on
            desired.source_record_id = landed_values.source_record_id
            and desired.native_field = landed_values.native_field
)

select * from final
