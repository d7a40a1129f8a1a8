-- The support desk (Zendesk) as the golden record wants it: one row per user or organization and
-- mapped field, next to the value as landed.
{%- set field_map = [
    ('users', 'golden_id', 'external_id'),
    ('users', 'full_name', 'name'),
    ('users', 'email', 'email'),
    ('users', 'phone', 'phone'),
    ('organizations', 'golden_id', 'external_id'),
    ('organizations', 'company_name', 'name'),
] %}

{%- set fingerprint = desired_state_fingerprint() %}
{{ desired_state_config() }}

with

all_comparisons as not materialized (
    select * from {{ ref('sync_field_comparisons') }}
    where target_system = 'support'
),

users as (
    select * from {{ source('raw_support', 'users') }}
),

organizations as (
    select * from {{ source('raw_support', 'organizations') }}
),

{{ desired_state_changed_ctes('all_comparisons', fingerprint) }}

field_map as (
    {{ sync_field_map_values(field_map, ['object_type', 'field', 'native_field']) }}
),

landed_values as (
    {{ landed_values_by_object_type(field_map, ['users', 'organizations']) }}
),

mapped as (
    {{ sync_mapped_comparisons(keyed_by='object_type') }}
),

final as (
    -- phones are E.164 as Zendesk stores them; external_id carries the golden id as is
    {{ desired_state_final(keyed_by='object_type', desired_value='mapped.golden_value', fingerprint=fingerprint) }}
)

select * from final
