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

{#- the lookup of a desired country_id (code to id) is in the fingerprint: a changed lookup plans every
    partner again (not the landed rows whole, whose load ids change with every extract) -#}
{%- set country_table = source('raw_erp', 'res_country') %}
{%- set fingerprint = desired_state_fingerprint(
    country_table, "select md5(string_agg(concat_ws(':', code, id), ',' order by code)) from " ~ country_table
) %}
{{ desired_state_config() }}

with

all_comparisons as not materialized (
    select * from {{ ref('sync_field_comparisons') }}
    where target_system = 'erp'
),

partners as (
    select * from {{ source('raw_erp', 'res_partner') }}
),

countries as (
    select * from {{ source('raw_erp', 'res_country') }}
),

{{ desired_state_changed_ctes('all_comparisons', fingerprint) }}

field_map as (
    {{ sync_field_map_values(field_map, ['field', 'native_field', 'entity_type']) }}
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
    -- only the records planned in this build
    where cast(partners.id as text) in (select changed.source_record_id from changed)
),

mapped as (
    {{ sync_mapped_comparisons(keyed_by='entity_type') }}
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
    {{ desired_state_final(keyed_by='entity_type', relation='desired', fingerprint=fingerprint) }}
)

select * from final
