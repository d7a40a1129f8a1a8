{#-
    Records that fail a hard rule, one row per record and reason. They are not removed from staging:
    the staging models keep them with their validity flags, and this model says what is wrong.
    Hard rules: no usable name; an invalid email and no valid phone; a birth date that cannot be read
    or is impossible (in the future, before 1900). Soft findings are listed with severity 'warning':
    an invalid email or phone next to a valid alternative, an unknown country, a postcode that does
    not fit its country.
-#}
{%- set base_models = [
    'base_crm__contacts', 'base_crm__companies', 'base_billing__customers',
    'base_support__users', 'base_support__organizations', 'base_erp__partners',
] + (['base_file__records'] if var('file_source_schema', '') else []) -%}

with

{% for base_model in base_models %}
    {{ base_model }} as (

        select * from {{ ref(base_model) }}

    ),

{% endfor %}

records as (

    {% for base_model in base_models %}
        select
            record_id,
            source_system,
            source_table,
            source_record_id,
            entity_type,
            first_name_raw,
            last_name_raw,
            full_name_raw,
            company_name_raw,
            email_raw,
            phone_raw,
            country_raw,
            postcode_raw,
            birth_date_raw,
            has_usable_name,
            is_email_valid,
            is_phone_valid,
            is_country_known,
            is_postcode_valid,
            is_birth_date_unparseable,
            is_birth_date_implausible,
            loaded_at
        from {{ base_model }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

findings as (

    select
        record_id,
        'no_usable_name' as reason,
        'error' as severity,
        coalesce(company_name_raw, full_name_raw, concat_ws(' ', first_name_raw, last_name_raw)) as raw_value
    from records
    where not has_usable_name

    union all

    select
        record_id,
        'invalid_email_and_no_phone' as reason,
        'error' as severity,
        email_raw as raw_value
    from records
    where not is_email_valid and not coalesce(is_phone_valid, false)

    union all

    select
        record_id,
        'unparseable_birth_date' as reason,
        'error' as severity,
        birth_date_raw as raw_value
    from records
    where is_birth_date_unparseable

    union all

    select
        record_id,
        'implausible_birth_date' as reason,
        'error' as severity,
        birth_date_raw as raw_value
    from records
    where is_birth_date_implausible

    union all

    select
        record_id,
        'invalid_email' as reason,
        'warning' as severity,
        email_raw as raw_value
    from records
    where not is_email_valid and is_phone_valid

    union all

    select
        record_id,
        'invalid_phone' as reason,
        'warning' as severity,
        phone_raw as raw_value
    from records
    where not is_phone_valid

    union all

    select
        record_id,
        'unknown_country' as reason,
        'warning' as severity,
        country_raw as raw_value
    from records
    where not is_country_known

    union all

    select
        record_id,
        'invalid_postcode' as reason,
        'warning' as severity,
        postcode_raw as raw_value
    from records
    where not is_postcode_valid

),

final as (

    select
        records.record_id,
        records.source_system,
        records.source_table,
        records.source_record_id,
        records.entity_type,
        findings.reason,
        findings.severity,
        findings.raw_value,
        records.loaded_at
    from findings
    inner join records
        on findings.record_id = records.record_id

)

select * from final
