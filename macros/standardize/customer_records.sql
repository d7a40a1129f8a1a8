{#-
    The standardization steps every source's base model shares, as CTEs after the model's own
    `renamed` CTE (one row per source record, raw values in the columns listed in
    docs/contracts.md §4 with a `_raw` suffix). Ends with a CTE named `standardized`: the canonical
    columns, then the raw values and validity flags that stg_quarantined_records reads, then
    match-ready keys (email match key, folded names, nickname root, compact postcode).
    The step CTEs are `materialized` (Postgres 12+): otherwise Postgres inlines them and expands each
    reference to a column back into the expression behind it, evaluating it again every time.
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
with_country as materialized (

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

{#-
    Each field is cleaned in steps, one step per CTE: a step adds columns computed from the columns
    of the step before, so every intermediate value is computed once and referred to by name.
-#}

{#- names: a leading honorific dropped -#}
names_untitled as materialized (

    select
        *,
        {{ drop_name_title('first_name_raw') }} as first_name_untitled,
        {{ drop_name_title('last_name_raw') }} as last_name_untitled,
        {{ drop_name_title('full_name_raw') }} as full_name_untitled
    from with_country

),

{#- names: whitespace cleaned -#}
names_trimmed as materialized (

    select
        *,
        {{ clean_text('first_name_untitled') }} as first_name_trimmed,
        {{ clean_text('last_name_untitled') }} as last_name_trimmed,
        {{ clean_text('full_name_untitled') }} as full_name_trimmed,
        {{ clean_text('full_name_raw') }} as full_name_as_typed,
        {{ clean_text('company_name_raw') }} as company_name_cleaned
    from names_untitled

),

names_titled as materialized (

    select
        *,
        initcap(lower(first_name_trimmed)) as first_name_titled,
        initcap(lower(last_name_trimmed)) as last_name_titled,
        initcap(lower(full_name_trimmed)) as full_name_titled
    from names_trimmed

),

{#- names: proper case when typed in one case, else as typed -#}
names_cased as materialized (

    select
        *,
        {{ standardize_person_name('first_name_trimmed', 'first_name_titled') }} as first_name_cleaned,
        {{ standardize_person_name('last_name_trimmed', 'last_name_titled') }} as last_name_cleaned,
        {{ standardize_person_name('full_name_trimmed', 'full_name_titled') }} as full_name_cleaned
    from names_titled

),

emails_cleaned as materialized (

    select
        *,
        {{ standardize_email('email_raw') }} as email
    from names_cased

),

emails_checked as materialized (

    select
        *,
        {{ is_valid_email('email') }} as is_email_valid
    from emails_cleaned

),

phones_unextended as materialized (

    select
        *,
        {{ phone_without_extension('phone_raw') }} as phone_no_extension
    from emails_checked

),

phones_dialled as materialized (

    select
        *,
        {{ phone_dialled_digits('phone_no_extension') }} as phone_dialled_digits,
        {{ phone_is_international('phone_no_extension') }} as phone_is_international
    from phones_unextended

),

phones_international as materialized (

    select
        *,
        {{ phone_international_digits(
            'phone_dialled_digits', 'phone_is_international', 'calling_code', 'trunk_prefix', 'national_number_lengths'
        ) }} as phone_digits
    from phones_dialled

),

{#- the calling code that starts the phone number (ITU codes are prefix-free: at most one matches) -#}
with_phone_country as materialized (

    select
        phones_international.*,
        coalesce(code_3.calling_code, code_2.calling_code, code_1.calling_code) as phone_calling_code,
        coalesce(code_3.national_number_lengths, code_2.national_number_lengths, code_1.national_number_lengths)
            as phone_national_number_lengths
    from phones_international
    left join calling_codes as code_1
        on left(phones_international.phone_digits, 1) = code_1.calling_code
    left join calling_codes as code_2
        on left(phones_international.phone_digits, 2) = code_2.calling_code
    left join calling_codes as code_3
        on left(phones_international.phone_digits, 3) = code_3.calling_code

),

with_phone as materialized (

    select
        *,
        case
            when nullif(trim(phone_raw), '') is not null
                then coalesce({{ is_valid_phone_number('phone_digits', 'phone_calling_code', 'phone_national_number_lengths') }}, false)
        end as is_phone_valid
    from with_phone_country

),

{#- addresses: whitespace cleaned -#}
addresses_trimmed as materialized (

    select
        *,
        {{ clean_text('address_line1_raw') }} as address_line1_trimmed,
        {{ clean_text('address_line2_raw') }} as address_line2_trimmed,
        {{ clean_text('city_raw') }} as city_trimmed,
        {{ clean_text('region_raw') }} as region
    from with_phone

),

{#- addresses: which line is a unit within a building (Apt 4, 5. OG, 4º F; var address_unit_patterns),
    and where a unit starts inside a one-line address ("12 Main St, Apt 4": its second comma part) -#}
address_units_found as materialized (

    select
        *,
        {{ is_address_unit('address_line1_trimmed') }} as is_line1_unit,
        {{ is_address_unit('address_line2_trimmed') }} as is_line2_unit,
        {{ address_unit_part_no('address_line1_trimmed') }} as line1_unit_part_no
    from addresses_trimmed

),

{#- addresses: the street first, the unit second. Lines given the other way round are swapped; a line
    holding both is split before its first unit part, so that every system's copy compares alike -#}
address_lines_ordered as materialized (

    select
        *,
        case
            when address_line2_trimmed is null and line1_unit_part_no is not null
                then {{ comma_parts('address_line1_trimmed', 1, 'line1_unit_part_no - 1') }}
            when is_line1_unit and not is_line2_unit then address_line2_trimmed
            else address_line1_trimmed
        end as address_line1_ordered,
        case
            when address_line2_trimmed is null and line1_unit_part_no is not null
                then {{ comma_parts('address_line1_trimmed', 'line1_unit_part_no') }}
            when is_line1_unit and not is_line2_unit then address_line1_trimmed
            else address_line2_trimmed
        end as address_line2_ordered
    from address_units_found

),

{#- addresses: title case when typed in one case -#}
addresses_cased as materialized (

    select
        *,
        {{ title_case_if_one_case('address_line1_ordered') }} as address_line1_cased,
        {{ title_case_if_one_case('address_line2_ordered') }} as address_line2_cased,
        {{ title_case_if_one_case('city_trimmed') }} as city
    from address_lines_ordered

),

{#- addresses: -straße compounds shortened, words abbreviated (Street -> St) -#}
addresses_abbreviated as materialized (

    select
        *,
        {{ standardize_address_line('address_line1_cased', 'address_abbreviations') }} as address_line1,
        {{ standardize_address_line('address_line2_cased', 'address_abbreviations') }} as address_line2
    from addresses_cased

),

postcodes_stripped as materialized (

    select
        *,
        {{ postcode_without_separators('postcode_raw') }} as postcode_stripped
    from addresses_abbreviated

),

postcodes_compacted as materialized (

    select
        *,
        {{ postcode_compact('postcode_stripped', 'postcode_zero_pad_length') }} as postcode_compact
    from postcodes_stripped

),

dates_normalized as materialized (

    select
        *,
        {{ normalize_date_text('birth_date_raw') }} as birth_date_text
    from postcodes_compacted

),

dates_rewritten as materialized (

    select
        *,
        {{ date_text_to_ymd('birth_date_text', 'date_order') }} as birth_date_ymd
    from dates_normalized

),

dates_split as materialized (

    select
        *,
        {{ ymd_part('birth_date_ymd', 1) }} as birth_date_year,
        {{ ymd_part('birth_date_ymd', 2) }} as birth_date_month,
        {{ ymd_part('birth_date_ymd', 3) }} as birth_date_day
    from dates_rewritten

),

dates_parsed as materialized (

    select
        *,
        {{ calendar_date('birth_date_year', 'birth_date_month', 'birth_date_day') }} as birth_date
    from dates_split

),

ids_cleaned as materialized (

    select
        *,
        {{ standardize_national_id('national_id_raw') }} as national_id
    from dates_parsed

),

{#-
    Persons: a full name alone is split ("Smith, John" is last-comma-first; otherwise the first word is
    the first name), a missing full name is first + last. Companies: the company name is the name.
-#}
with_names as materialized (

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
    from ids_cleaned

),

with_full_names as materialized (

    select
        *,
        case
            when entity_type = 'company' then company_name
            when full_name_cleaned is not null and full_name_cleaned not like '%,%' then full_name_cleaned
            else nullif(concat_ws(' ', first_name, last_name), '')
        end as full_name
    from with_names

),

{#- names folded for matching -#}
names_folded as materialized (

    select
        *,
        {{ name_match_key('first_name') }} as first_name_match_key,
        {{ name_match_key('last_name') }} as last_name_match_key,
        {{ name_match_key('company_name') }} as company_name_match_key
    from with_full_names

),

{#- the key a first name is looked up by in ref_nicknames (the first token of its match key) -#}
names_keyed as materialized (

    select
        *,
        {{ nickname_lookup_key('first_name', 'first_name_match_key') }} as first_name_nickname_key
    from names_folded

),

with_lookups as materialized (

    select
        names_keyed.*,
        {{ email_match_key('names_keyed.email', 'email_rules', 'names_keyed.is_email_valid') }} as email_match_key,
        {{ nickname_root('names_keyed.first_name', 'nicknames', 'names_keyed.first_name_nickname_key') }}
            as first_name_root
    from names_keyed
    left join email_rules
        on {{ email_domain('names_keyed.email') }} = email_rules.domain
    left join nicknames
        on names_keyed.first_name_nickname_key = nicknames.nickname

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
        is_email_valid,
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
        first_name_match_key,
        last_name_match_key,
        company_name_match_key,
        first_name_root,
        postcode_compact as postcode_key
    from with_lookups

)

{%- endmacro %}

