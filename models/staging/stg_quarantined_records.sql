{#-
    Records that fail a hard rule, one row per record and reason. They are not removed from staging:
    the staging models keep them with their validity flags, and this model says what is wrong.
    Hard rules: no usable name; an invalid email and no valid phone; a birth date that cannot be read
    or is impossible (in the future, before 1900). Soft findings are listed with severity 'warning':
    an invalid email or phone next to a valid alternative, an unknown country, a postcode that does
    not fit its country.
-#}
{#- each rule once: (reason, severity, the raw value shown, the condition under which a record breaks
    it); the filter and the findings below are both rendered from this list -#}
{%- set rules = [
    ('no_usable_name', 'error',
        "coalesce(company_name_raw, full_name_raw, concat_ws(' ', first_name_raw, last_name_raw))",
        'not has_usable_name'),
    ('invalid_email_and_no_phone', 'error', 'email_raw',
        'not is_email_valid and not coalesce(is_phone_valid, false)'),
    ('unparseable_birth_date', 'error', 'birth_date_raw', 'is_birth_date_unparseable'),
    ('implausible_birth_date', 'error', 'birth_date_raw', 'is_birth_date_implausible'),
    ('invalid_email', 'warning', 'email_raw', 'not is_email_valid and is_phone_valid'),
    ('invalid_phone', 'warning', 'phone_raw', 'not is_phone_valid'),
    ('unknown_country', 'warning', 'country_raw', 'not is_country_known'),
    ('invalid_postcode', 'warning', 'postcode_raw', 'not is_postcode_valid'),
] -%}
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

-- only the records that break at least one rule (a null condition breaks none): a few hundred of
-- every hundred thousand, so each record is read once and only these are unfolded into their findings
flagged as (

    select *
    from records
    where
        {% for reason, severity, raw_value, condition in rules %}
            ({{ condition }})
            {% if not loop.last %}or{% endif %}
        {% endfor %}

),

-- one row per rule a record breaks; a rule whose condition is null does not apply
findings as (

    select
        flagged.record_id,
        flagged.source_system,
        flagged.source_table,
        flagged.source_record_id,
        flagged.entity_type,
        finding.reason,
        finding.severity,
        finding.raw_value,
        flagged.loaded_at
    from flagged
    cross join
        lateral (
            values
            {% for reason, severity, raw_value, condition in rules %}
                ('{{ reason }}', '{{ severity }}', {{ raw_value }}, {{ condition }})
                {% if not loop.last %},{% endif %}
            {% endfor %}
        ) as finding (reason, severity, raw_value, applies)
    where finding.applies

)

select * from findings
