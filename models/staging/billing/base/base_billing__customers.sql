{#-
    Stripe has one name field for people and companies alike. A customer is a company only when the
    name clearly is one (it carries a legal form such as Ltd, GmbH or Inc: looks_like_company_name);
    otherwise a person, the common case for billing customers. Stripe keeps no update time: the
    creation time stands in for it.
-#}

{{ landed_changes_config('raw_billing', 'customers') }}
{%- set steps %}
    {{ standardized_customer_record_ctes('changed') }}
{%- endset %}
{%- set fingerprint = model_fingerprint(steps) %}

with

source as (

    {{ landed_row_hash(source('raw_billing', 'customers'), fingerprint) }}

),

typed as (

    select
        *,
        case when {{ looks_like_company_name('name') }} then 'company' else 'person' end as entity_type
    from source

),

renamed as (

    select
        'billing:customers:' || cast(id as {{ dbt.type_string() }}) as record_id,
        'billing' as source_system,
        'customers' as source_table,
        cast(id as {{ dbt.type_string() }}) as source_record_id,
        entity_type,
        cast(null as {{ dbt.type_string() }}) as first_name_raw,
        cast(null as {{ dbt.type_string() }}) as last_name_raw,
        case when entity_type = 'person' then name end as full_name_raw,
        email as email_raw,
        phone as phone_raw,
        case when entity_type = 'company' then name end as company_name_raw,
        address__line1 as address_line1_raw,
        address__line2 as address_line2_raw,
        address__city as city_raw,
        address__postal_code as postcode_raw,
        address__state as region_raw,
        address__country as country_raw,
        cast(null as {{ dbt.type_string() }}) as birth_date_raw,
        cast(null as {{ dbt.type_string() }}) as national_id_raw,
        nullif(trim(metadata__golden_id), '') as golden_id_in_source,
        coalesce(deleted, false) as is_deleted,
        {{ unix_seconds_to_timestamp('created') }} as source_created_at,
        {{ unix_seconds_to_timestamp('created') }} as source_updated_at,
        _dlt_id as landed_row_id,
        landed_hash,
        {{ dlt_load_id_to_timestamp('_dlt_load_id') }} as loaded_at
    from typed

),

{{ landed_changes_ctes('renamed', fingerprint, renamed_hashed=true) }}

{{ steps }}

{{ standardized_with_landing('standardized', fingerprint) }}
