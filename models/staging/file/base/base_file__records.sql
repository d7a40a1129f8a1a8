{#-
    A customer file's rows. The file holds canonical field names, but any of them may be missing from a
    given file: columns the landed table lacks are read as null (looked up when the model compiles).
    Built only when a file is named: --vars '{file_source_schema: raw_file_<name>}'.
    The record id follows the contract (<source_system>:<source_table>:<source_record_id>); a file
    without source columns is source_system 'file', source_table the file's name, and its own ids.
-#}
{{ config(enabled=(var('file_source_schema', '') | length > 0)) }}
{%- set file_relation = source('file', 'records') -%}
{%- set present = [] -%}
{%- if execute -%}
    {%- for column in adapter.get_columns_in_relation(file_relation) -%}
        {%- do present.append(column.name | lower) -%}
    {%- endfor -%}
{%- endif -%}
{%- set file_name = file_relation.schema | replace('raw_file_', '') -%}
{%- macro file_field(name) -%}
    {%- if name in present -%}nullif(trim(cast({{ name }} as {{ dbt.type_string() }})), ''){%- else -%}cast(null as {{ dbt.type_string() }}){%- endif -%}
{%- endmacro -%}

with

source as (

    select * from {{ file_relation }}

),

identified as (

    select
        *,
        coalesce({{ file_field('source_system') }}, 'file') as file_source_system,
        coalesce({{ file_field('source_table') }}, '{{ file_name }}') as file_source_table,
        coalesce({{ file_field('source_record_id') }}, {{ file_field('record_id') }}) as file_source_record_id
    from source

),

renamed as (

    select
        file_source_system || ':' || file_source_table || ':' || file_source_record_id as record_id,
        file_source_system as source_system,
        file_source_table as source_table,
        file_source_record_id as source_record_id,
        case
            when lower({{ file_field('entity_type') }}) in ('company', 'organization', 'organisation') then 'company'
            when {{ file_field('entity_type') }} is null and {{ file_field('first_name') }} is null
                and {{ file_field('last_name') }} is null and {{ file_field('full_name') }} is null
                and {{ file_field('company_name') }} is not null then 'company'
            else 'person'
        end as entity_type,
        {{ file_field('first_name') }} as first_name_raw,
        {{ file_field('last_name') }} as last_name_raw,
        {{ file_field('full_name') }} as full_name_raw,
        {{ file_field('email') }} as email_raw,
        {{ file_field('phone') }} as phone_raw,
        {{ file_field('company_name') }} as company_name_raw,
        {{ file_field('address_line1') }} as address_line1_raw,
        {{ file_field('address_line2') }} as address_line2_raw,
        {{ file_field('city') }} as city_raw,
        {{ file_field('postcode') }} as postcode_raw,
        {{ file_field('region') }} as region_raw,
        coalesce({{ file_field('country_code') }}, {{ file_field('country') }}) as country_raw,
        {{ file_field('birth_date') }} as birth_date_raw,
        {{ file_field('national_id') }} as national_id_raw,
        {{ file_field('golden_id_in_source') }} as golden_id_in_source,
        coalesce(lower({{ file_field('is_deleted') }}) in ('true', 't', '1', 'yes', 'y'), false) as is_deleted,
        {{ to_utc_timestamp(file_field('source_created_at')) }} as source_created_at,
        {{ to_utc_timestamp(file_field('source_updated_at')) }} as source_updated_at,
        {{ dlt_load_id_to_timestamp('_dlt_load_id') }} as loaded_at
    from identified

),

{{ standardized_customer_record_ctes('renamed') }}

select * from standardized
