{{ landed_changes_config('raw_support', 'organizations') }}
{%- set steps %}
    {{ free_text_address_ctes('changed', 'address_text') }}

    {{ standardized_customer_record_ctes('address_text_split') }}
{%- endset %}
{%- set fingerprint = model_fingerprint(steps) %}

with

source as (

    {{ landed_row_hash(source('raw_support', 'organizations'), fingerprint) }}

),

renamed as (

    select
        'support:organizations:' || cast(id as {{ dbt.type_string() }}) as record_id,
        'support' as source_system,
        'organizations' as source_table,
        cast(id as {{ dbt.type_string() }}) as source_record_id,
        'company' as entity_type,
        cast(null as {{ dbt.type_string() }}) as first_name_raw,
        cast(null as {{ dbt.type_string() }}) as last_name_raw,
        cast(null as {{ dbt.type_string() }}) as full_name_raw,
        cast(null as {{ dbt.type_string() }}) as email_raw,
        cast(null as {{ dbt.type_string() }}) as phone_raw,
        name as company_name_raw,
        details as address_text,
        cast(null as {{ dbt.type_string() }}) as birth_date_raw,
        cast(null as {{ dbt.type_string() }}) as national_id_raw,
        nullif(trim(external_id), '') as golden_id_in_source,
        false as is_deleted,
        {{ to_utc_timestamp('created_at') }} as source_created_at,
        {{ to_utc_timestamp('updated_at') }} as source_updated_at,
        _dlt_id as landed_row_id,
        landed_hash,
        {{ dlt_load_id_to_timestamp('_dlt_load_id') }} as loaded_at
    from source

),

{{ landed_changes_ctes('renamed', fingerprint, renamed_hashed=true) }}

{{ steps }}

{{ standardized_with_landing('standardized', fingerprint) }}
