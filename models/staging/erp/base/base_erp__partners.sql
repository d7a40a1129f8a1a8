{#-
    The partner's country code comes from res_country, and a contact person's company name from its
    parent partner: lookups of the same system, not business joins. Odoo returns false for empty
    fields; a text field holding 'false' is read as empty.
-#}

{{ landed_changes_config('raw_erp', 'res_partner') }}
{%- set steps %}
    {{ standardized_customer_record_ctes('changed') }}
{%- endset %}
{%- set fingerprint = model_fingerprint(steps) %}

with

source as (

    select * from {{ source('raw_erp', 'res_partner') }}

),

countries as (

    select * from {{ source('raw_erp', 'res_country') }}

),

parents as (

    select * from {{ source('raw_erp', 'res_partner') }}

),

renamed as (

    select
        'erp:res_partner:' || cast(source.id as {{ dbt.type_string() }}) as record_id,
        'erp' as source_system,
        'res_partner' as source_table,
        cast(source.id as {{ dbt.type_string() }}) as source_record_id,
        case when coalesce(source.is_company, false) then 'company' else 'person' end as entity_type,
        cast(null as {{ dbt.type_string() }}) as first_name_raw,
        cast(null as {{ dbt.type_string() }}) as last_name_raw,
        case when not coalesce(source.is_company, false) then nullif(source.name, 'false') end as full_name_raw,
        nullif(source.email, 'false') as email_raw,
        nullif(source.phone, 'false') as phone_raw,
        case
            when coalesce(source.is_company, false) then nullif(source.name, 'false')
            else nullif(parents.name, 'false')
        end as company_name_raw,
        nullif(source.street, 'false') as address_line1_raw,
        nullif(source.street2, 'false') as address_line2_raw,
        nullif(source.city, 'false') as city_raw,
        nullif(source.zip, 'false') as postcode_raw,
        nullif(source.state_name, 'false') as region_raw,
        coalesce(countries.code, countries.name) as country_raw,
        cast(null as {{ dbt.type_string() }}) as birth_date_raw,
        nullif(source.vat, 'false') as national_id_raw,
        nullif(trim(nullif(source.ref, 'false')), '') as golden_id_in_source,
        not coalesce(source.active, true) as is_deleted,
        {{ to_utc_timestamp('source.create_date') }} as source_created_at,
        {{ to_utc_timestamp('source.write_date') }} as source_updated_at,
        source._dlt_id as landed_row_id,
        {{ dlt_load_id_to_timestamp('source._dlt_load_id') }} as loaded_at
    from source
    left join countries
        on source.country_id = countries.id
    left join parents
        on source.parent_id = parents.id

),

{{ landed_changes_ctes('renamed', fingerprint) }}

{{ steps }}

{{ standardized_with_landing('standardized', fingerprint) }}
