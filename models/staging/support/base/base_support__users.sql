{#- The user's organization name is looked up (not joined for business logic) as the company name. -#}

{{ landed_changes_config('raw_support', 'users') }}
{%- set steps %}
    {{ free_text_address_ctes('changed', 'address_text') }}

    {{ standardized_customer_record_ctes('address_text_split') }}
{%- endset %}
{%- set fingerprint = model_fingerprint(steps) %}

with

source as (

    select * from {{ source('raw_support', 'users') }}

),

organizations as (

    select * from {{ source('raw_support', 'organizations') }}

),

renamed as (

    select
        'support:users:' || cast(source.id as {{ dbt.type_string() }}) as record_id,
        'support' as source_system,
        'users' as source_table,
        cast(source.id as {{ dbt.type_string() }}) as source_record_id,
        'person' as entity_type,
        cast(null as {{ dbt.type_string() }}) as first_name_raw,
        cast(null as {{ dbt.type_string() }}) as last_name_raw,
        source.name as full_name_raw,
        source.email as email_raw,
        source.phone as phone_raw,
        organizations.name as company_name_raw,
        source.details as address_text,
        cast(null as {{ dbt.type_string() }}) as birth_date_raw,
        cast(null as {{ dbt.type_string() }}) as national_id_raw,
        nullif(trim(source.external_id), '') as golden_id_in_source,
        not coalesce(source.active, true) as is_deleted,
        {{ to_utc_timestamp('source.created_at') }} as source_created_at,
        {{ to_utc_timestamp('source.updated_at') }} as source_updated_at,
        source._dlt_id as landed_row_id,
        {{ dlt_load_id_to_timestamp('source._dlt_load_id') }} as loaded_at
    from source
    left join organizations
        on source.organization_id = organizations.id

),

{{ landed_changes_ctes('renamed', fingerprint) }}

{{ steps }}

{{ standardized_with_landing('standardized', fingerprint) }}
