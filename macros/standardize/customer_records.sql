{#-
    The standardization steps every source's base model shares, as CTEs after the model's own
    `renamed` CTE (one row per source record, raw values in the columns listed in
    docs/contracts.md §4 with a `_raw` suffix). Ends with a CTE named `standardized`: the canonical
    columns, then the raw values and validity flags that stg_quarantined_records reads, then
    match-ready keys (email match key, folded names, nickname root, compact postcode).
-#}
{% macro standardized_customer_record_ctes(renamed='renamed') -%}

country_codes as (

    select * from {{ ref('ref_country_codes') }}

),

country_aliases as (

    select * from {{ ref('stg_reference__country_aliases') }}

),

calling_codes as (

    select * from {{ ref('stg_reference__calling_codes') }}

),

email_rules as (

    select * from {{ ref('ref_email_provider_rules') }}

),

nicknames as (

    select * from {{ ref('ref_nicknames') }}

),

address_abbreviations as (

    select * from {{ ref('ref_address_abbreviations') }}

),

{#- the record's country, from whatever spelling the source holds -#}
with_country as (

    select
        {{ renamed }}.*,
        country_aliases.country_code,
        country_codes.calling_code,
        country_codes.trunk_prefix,
        country_codes.national_number_lengths,
        country_codes.date_order,
        country_codes.postcode_regex,
        country_codes.postcode_format_regex,
        country_codes.postcode_format_replacement,
        country_codes.postcode_zero_pad_length
    from {{ renamed }}
    left join country_aliases
        on {{ country_lookup_key(renamed ~ '.country_raw') }} = country_aliases.alias_key
    left join country_codes
        on country_aliases.country_code = country_codes.alpha2

),

{#- each field cleaned on its own -#}
cleaned as (

    select
        *,
        {{ standardize_email('email_raw') }} as email,
        {{ phone_international_digits('phone_raw', 'calling_code', 'trunk_prefix', 'national_number_lengths') }}
            as phone_digits,
        {{ standardize_person_name('first_name_raw') }} as first_name_cleaned,
        {{ standardize_person_name('last_name_raw') }} as last_name_cleaned,
        {{ standardize_person_name('full_name_raw') }} as full_name_cleaned,
        {{ clean_text('full_name_raw') }} as full_name_as_typed,
        {{ clean_text('company_name_raw') }} as company_name_cleaned,
        {{ standardize_address_line('address_line1_raw', 'address_abbreviations') }} as address_line1,
        {{ standardize_address_line('address_line2_raw', 'address_abbreviations') }} as address_line2,
        case
            when {{ clean_text('city_raw') }} in (upper({{ clean_text('city_raw') }}), lower({{ clean_text('city_raw') }}))
                then initcap(lower({{ clean_text('city_raw') }}))
            else {{ clean_text('city_raw') }}
        end as city,
        {{ postcode_compact('postcode_raw', 'postcode_zero_pad_length') }} as postcode_compact,
        {{ clean_text('region_raw') }} as region,
        {{ parse_date('birth_date_raw', 'date_order') }} as birth_date,
        {{ standardize_national_id('national_id_raw') }} as national_id
    from with_country

),

{#- the calling code that starts the phone number (ITU codes are prefix-free: at most one matches) -#}
with_phone_country as (

    select
        cleaned.*,
        coalesce(code_3.calling_code, code_2.calling_code, code_1.calling_code) as phone_calling_code,
        coalesce(code_3.national_number_lengths, code_2.national_number_lengths, code_1.national_number_lengths)
            as phone_national_number_lengths
    from cleaned
    left join calling_codes as code_1
        on left(cleaned.phone_digits, 1) = code_1.calling_code
    left join calling_codes as code_2
        on left(cleaned.phone_digits, 2) = code_2.calling_code
    left join calling_codes as code_3
        on left(cleaned.phone_digits, 3) = code_3.calling_code

),

with_phone as (

    select
        *,
        case
            when nullif(trim(phone_raw), '') is not null
                then coalesce({{ is_valid_phone_number('phone_digits', 'phone_calling_code', 'phone_national_number_lengths') }}, false)
        end as is_phone_valid
    from with_phone_country

),

{#-
    Persons: a full name alone is split ("Smith, John" is last-comma-first; otherwise the first word is
    the first name), a missing full name is first + last. Companies: the company name is the name.
-#}
with_names as (

    select
        *,
        case
            when entity_type = 'person' then coalesce(
                first_name_cleaned,
                case
                    when full_name_cleaned like '%,%' then nullif(trim(split_part(full_name_cleaned, ',', 2)), '')
                    when last_name_cleaned is null then split_part(full_name_cleaned, ' ', 1)
                end
            )
        end as first_name,
        case
            when entity_type = 'person' then coalesce(
                last_name_cleaned,
                case
                    when full_name_cleaned like '%,%' then nullif(trim(split_part(full_name_cleaned, ',', 1)), '')
                    when first_name_cleaned is null
                        then nullif(trim(substr(full_name_cleaned, length(split_part(full_name_cleaned, ' ', 1)) + 1)), '')
                end
            )
        end as last_name,
        case
            when entity_type = 'company' then coalesce(company_name_cleaned, full_name_as_typed)
            else company_name_cleaned
        end as company_name
    from with_phone

),

with_full_names as (

    select
        *,
        case
            when entity_type = 'company' then company_name
            when full_name_cleaned is not null and full_name_cleaned not like '%,%' then full_name_cleaned
            else nullif(concat_ws(' ', first_name, last_name), '')
        end as full_name
    from with_names

),

with_lookups as (

    select
        with_full_names.*,
        {{ email_match_key('with_full_names.email', 'email_rules') }} as email_match_key,
        {{ nickname_root('with_full_names.first_name', 'nicknames') }} as first_name_root
    from with_full_names
    left join email_rules
        on {{ email_domain('with_full_names.email') }} = email_rules.domain
    left join nicknames
        on {{ nickname_lookup_key('with_full_names.first_name') }} = nicknames.nickname

),

standardized as (

    select
        record_id,
        source_system,
        source_table,
        source_record_id,
        entity_type,
        first_name,
        last_name,
        full_name,
        email,
        {{ is_valid_email('email') }} as is_email_valid,
        case when is_phone_valid then '+' || phone_digits end as phone,
        is_phone_valid,
        company_name,
        address_line1,
        address_line2,
        city,
        {{ standardize_postcode('postcode_compact', 'postcode_format_regex', 'postcode_format_replacement') }}
            as postcode,
        region,
        country_code,
        birth_date,
        national_id,
        golden_id_in_source,
        coalesce(is_deleted, false) as is_deleted,
        source_created_at,
        source_updated_at,
        loaded_at,
        -- raw values and flags for stg_quarantined_records
        first_name_raw,
        last_name_raw,
        full_name_raw,
        company_name_raw,
        email_raw,
        phone_raw,
        country_raw,
        postcode_raw,
        birth_date_raw,
        case
            when entity_type = 'company' then company_name is not null
            else coalesce(first_name, last_name) is not null
        end as has_usable_name,
        case when nullif(trim(country_raw), '') is not null then country_code is not null end as is_country_known,
        {{ is_valid_postcode('postcode_compact', 'postcode_regex') }} as is_postcode_valid,
        {{ is_unparseable_date('birth_date_raw', 'birth_date') }} as is_birth_date_unparseable,
        coalesce(birth_date > current_date or birth_date < date '1900-01-01', false) as is_birth_date_implausible,
        -- match-ready keys (identity may read them instead of deriving its own)
        email_match_key,
        {{ name_match_key('first_name') }} as first_name_match_key,
        {{ name_match_key('last_name') }} as last_name_match_key,
        {{ name_match_key('company_name') }} as company_name_match_key,
        first_name_root,
        postcode_compact as postcode_key
    from with_lookups

)

{%- endmacro %}

