{{ landed_changes_config('raw_crm', 'contacts') }}
{%- set steps %}
    {{ standardized_customer_record_ctes('changed') }}
{%- endset %}
{%- set fingerprint = model_fingerprint(steps) %}

with

source as (

    {{ landed_row_hash(source('raw_crm', 'contacts'), fingerprint) }}

),

renamed as (

    select
        'crm:contacts:' || cast(id as {{ dbt.type_string() }}) as record_id,
        'crm' as source_system,
        'contacts' as source_table,
        cast(id as {{ dbt.type_string() }}) as source_record_id,
        'person' as entity_type,
        properties__firstname as first_name_raw,
        properties__lastname as last_name_raw,
        cast(null as {{ dbt.type_string() }}) as full_name_raw,
        properties__email as email_raw,
        coalesce(nullif(trim(properties__phone), ''), properties__mobilephone) as phone_raw,
        properties__company as company_name_raw,
        properties__address as address_line1_raw,
        cast(null as {{ dbt.type_string() }}) as address_line2_raw,
        properties__city as city_raw,
        properties__zip as postcode_raw,
        properties__state as region_raw,
        properties__country as country_raw,
        properties__date_of_birth as birth_date_raw,
        cast(null as {{ dbt.type_string() }}) as national_id_raw,
        nullif(trim(properties__mdm_golden_id), '') as golden_id_in_source,
        coalesce(archived, false) as is_deleted,
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
