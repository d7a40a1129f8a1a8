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

with

source as (

    select * from {{ file_relation }}

),

identified as (

    select
        *,
        coalesce({{ file_field('source_system', present) }}, 'file') as file_source_system,
        coalesce({{ file_field('source_table', present) }}, '{{ file_name }}') as file_source_table,
        coalesce({{ file_field('source_record_id', present) }}, {{ file_field('record_id', present) }}) as file_source_record_id
    from source

),

renamed as (

    select
        file_source_system || ':' || file_source_table || ':' || file_source_record_id as record_id,
        file_source_system as source_system,
        file_source_table as source_table,
        file_source_record_id as source_record_id,
        case
            when lower({{ file_field('entity_type', present) }}) in ('company', 'organization', 'organisation') then 'company'
            when {{ file_field('entity_type', present) }} is null and {{ file_field('first_name', present) }} is null
                and {{ file_field('last_name', present) }} is null and {{ file_field('full_name', present) }} is null
                and {{ file_field('company_name', present) }} is not null then 'company'
            else 'person'
        end as entity_type,
        {{ file_field('first_name', present) }} as first_name_raw,
        {{ file_field('last_name', present) }} as last_name_raw,
        {{ file_field('full_name', present) }} as full_name_raw,
        {{ file_field('email', present) }} as email_raw,
        {{ file_field('phone', present) }} as phone_raw,
        {{ file_field('company_name', present) }} as company_name_raw,
        {{ file_field('address_line1', present) }} as address_line1_raw,
        {{ file_field('address_line2', present) }} as address_line2_raw,
        {{ file_field('city', present) }} as city_raw,
        {{ file_field('postcode', present) }} as postcode_raw,
        {{ file_field('region', present) }} as region_raw,
        coalesce({{ file_field('country_code', present) }}, {{ file_field('country', present) }}) as country_raw,
        {{ file_field('birth_date', present) }} as birth_date_raw,
        {{ file_field('national_id', present) }} as national_id_raw,
        {{ file_field('golden_id_in_source', present) }} as golden_id_in_source,
        coalesce(lower({{ file_field('is_deleted', present) }}) in ('true', 't', '1', 'yes', 'y'), false) as is_deleted,
        {{ to_utc_timestamp(file_field('source_created_at', present)) }} as source_created_at,
        {{ to_utc_timestamp(file_field('source_updated_at', present)) }} as source_updated_at,
        {{ dlt_load_id_to_timestamp('_dlt_load_id') }} as loaded_at
    from identified

),

{{ standardized_customer_record_ctes('renamed') }}

select * from standardized
