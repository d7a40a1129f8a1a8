-- The CRM (HubSpot) as the golden record wants it: one row per contact or company and mapped property,
-- with the golden value in HubSpot's format (every property a string) next to the value as last landed.
{%- set field_map = [
    ('contacts', 'golden_id', 'mdm_golden_id'),
    ('contacts', 'first_name', 'firstname'),
    ('contacts', 'last_name', 'lastname'),
    ('contacts', 'email', 'email'),
    ('contacts', 'phone', 'phone'),
    ('contacts', 'company_name', 'company'),
    ('contacts', 'street_address', 'address'),
    ('contacts', 'city', 'city'),
    ('contacts', 'region', 'state'),
    ('contacts', 'postcode', 'zip'),
    ('contacts', 'country_code', 'country'),
    ('contacts', 'birth_date', 'date_of_birth'),
    ('companies', 'golden_id', 'mdm_golden_id'),
    ('companies', 'company_name', 'name'),
    ('companies', 'phone', 'phone'),
    ('companies', 'street_address', 'address'),
    ('companies', 'city', 'city'),
    ('companies', 'region', 'state'),
    ('companies', 'postcode', 'zip'),
    ('companies', 'country_code', 'country'),
] %}

{%- set fingerprint = desired_state_fingerprint() %}
{{ desired_state_config() }}

with

all_comparisons as not materialized (
    select * from {{ ref('sync_field_comparisons') }}
    where target_system = 'crm'
),

contacts as (
    select * from {{ source('raw_crm', 'contacts') }}
),

companies as (
    select * from {{ source('raw_crm', 'companies') }}
),

{{ desired_state_changed_ctes('all_comparisons', fingerprint) }}

field_map as (
    {{ sync_field_map_values(field_map, ['object_type', 'field', 'native_field']) }}
),

landed_values as (
    {{ landed_values_by_object_type(field_map, ['contacts', 'companies'], column_prefix='properties__') }}
),

mapped as (
    {{ sync_mapped_comparisons(keyed_by='object_type') }}
),

final as (
    -- HubSpot takes every property as a string: dates as YYYY-MM-DD, countries as ISO alpha-2
    {{ desired_state_final(keyed_by='object_type', desired_value='mapped.golden_value', fingerprint=fingerprint) }}
)

select * from final
