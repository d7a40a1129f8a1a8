{#-
    The columns of the canonical record (docs/contracts.md §4) in contract order, as a list, for models
    that build their column lists from it (int_customer_entered_records, int_customer_records).
-#}
{% macro canonical_record_column_names() -%}
    {{ return([
        'record_id', 'source_system', 'source_table', 'source_record_id', 'entity_type',
        'first_name', 'last_name', 'full_name', 'email', 'is_email_valid', 'phone', 'is_phone_valid',
        'company_name', 'address_line1', 'address_line2', 'city', 'postcode', 'region', 'country_code',
        'birth_date', 'national_id', 'golden_id_in_source', 'is_deleted',
        'source_created_at', 'source_updated_at', 'loaded_at',
    ]) }}
{%- endmacro %}


{#-
    The same columns comma-separated one a line, for the stg_ models that select them from their base
    model.
-#}
{% macro canonical_record_columns() -%}
    {{ canonical_record_column_names() | join(',\n    ') }}
{%- endmacro %}


{#- The staging models whose records are resolved (var('record_sources')): by default every system's. -#}
{% macro record_source_models() -%}
    {{ return(var('record_sources', [
        'stg_crm__contacts', 'stg_crm__companies', 'stg_billing__customers',
        'stg_support__users', 'stg_support__organizations', 'stg_erp__partners',
    ])) }}
{%- endmacro %}


{#- The base model a staging model selects from, by the layout's names (stg_crm__contacts reads
    base_crm__contacts), for its stamps: when a build last standardized each record. -#}
{% macro base_model_of(staging_model) -%}
    {{ return('base_' ~ staging_model[4:]) }}
{%- endmacro %}


{#- Post-hook of an incremental model of live records (int_customer_entered_records): delete the built
    records that are no longer live in any staging model of record_source_models() (deleted in their
    system, or no longer landed): one anti-join of the built ids with the live ones finds them
    (delete_rows_with_keys). Each deleted id is logged for the models that read this table
    (macros/record_key_log.sql). -#}
{% macro delete_records_no_longer_live() -%}
{%- set gone_records -%}
    select built.record_id
    from {{ this }} as built
    where not exists (
        select 1
        from (
            {%- for source_model in record_source_models() %}
            select record_id from {{ ref(source_model) }} where not coalesce(is_deleted, false)
            {%- if not loop.last %}
            union all
            {%- endif %}
            {%- endfor %}
        ) as live
        where live.record_id = built.record_id
    )
{%- endset -%}
{%- if logs_record_keys(this) -%}
{{ delete_and_log_record_ids(gone_records) }}
{%- elif is_incremental() -%}
{{ delete_rows_with_keys('record_id', gone_records) }}
{%- endif -%}
{%- endmacro %}
