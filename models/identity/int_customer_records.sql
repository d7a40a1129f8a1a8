{#-
    Every live source record in one shape, with the keys that blocking and comparisons use. The values
    are as entered outside the hub (int_customer_entered_records): the hub's own writes are not evidence.
-#}
{%- set canonical_columns = canonical_record_column_names() -%}

with

entered_records as (

    select * from {{ ref('int_customer_entered_records') }}

),

nicknames as (

    select * from {{ ref('ref_nicknames') }}

),

live_records as (

    select {{ canonical_columns | join(', ') }}
    from entered_records

),

-- a person record without a company name whose full name reads like a company (it has a legal form)
-- is a company, as staging decides for billing names: a source may keep company customers as names
classified as materialized (

    select
        *,
        {{ is_company_by_name('entity_type', 'company_name', 'full_name') }} as is_company_by_name
    from live_records

),

{%- set company_by_name = {
    'entity_type': "'company'",
    'first_name': "null",
    'last_name': "null",
    'company_name': "full_name",
} %}
{%- set typed_columns = [] %}
{%- for column in canonical_columns %}
    {%- if column in company_by_name %}
        {%- do typed_columns.append(
            'case when is_company_by_name then ' ~ company_by_name[column] ~ ' else ' ~ column ~ ' end as ' ~ column
        ) %}
    {%- else %}
        {%- do typed_columns.append(column) %}
    {%- endif %}
{%- endfor %}

typed as materialized (

    select
        {{ typed_columns | join(',\n        ') }}
    from classified

),

folded as materialized (

    select
        *,
        {{ fold_for_matching('first_name') }} as first_name_folded,
        {{ fold_for_matching('last_name') }} as last_name_folded,
        {{ fold_for_matching('full_name') }} as full_name_folded,
        {{ fold_for_matching("replace(full_name, '.', '')") }} as full_name_company_folded,
        {{ fold_for_matching("replace(company_name, '.', '')") }} as company_name_folded,
        {{ fold_for_matching("concat_ws(' ', address_line1, address_line2)") }} as address_folded,
        {{ fold_for_matching('city') }} as city_key,
        lower(trim(email)) as email_lower,
        nullif(regexp_replace(phone, '[^0-9]', '', 'g'), '') as phone_digits,
        nullif(upper(regexp_replace(postcode, '[^[:alnum:]]', '', 'g')), '') as postcode_key,
        nullif(upper(regexp_replace(national_id, '[^[:alnum:]]', '', 'g')), '') as national_id_key
    from typed

),

-- a person with only a full name gets first = first token, last = the rest
person_names as materialized (

    select
        *,
        case
            when entity_type = 'person'
                then coalesce(first_name_folded, split_part(full_name_folded, ' ', 1))
        end as first_name_key,
        case
            when entity_type = 'person'
                then coalesce(
                        last_name_folded,
                        nullif(trim(substr(full_name_folded, length(split_part(full_name_folded, ' ', 1)) + 1)), '')
                    )
        end as last_name_key
    from folded

),

-- legal forms (Inc, GmbH, Pty Ltd ...) and connectors (& / and) say nothing about which company it is;
-- dots are dropped first so that S.p.A. and B.V. read as the legal forms spa and bv
company_names as materialized (

    select
        *,
        nullif(trim(regexp_replace(
            ' ' || case
                when entity_type = 'company'
                    then coalesce(company_name_folded, full_name_company_folded)
                else company_name_folded
            end || ' ',
            ' (the|and|und|et|inc|incorporated|llc|llp|lp|ltd|limited|plc|corp|corporation|co|company'
            || '|gmbh|ag|kg|se|sa|sas|sarl'
            || '|srl|spa|bv|nv|pty|pte|oy|ab|as|aps|kk|group|holding|holdings'
            || '|eurl|sl|slu|ohg|ug|ooo|oao|zao|pao|ao|ike|ae|oe|epe)(?= )',
            ' ', 'g'
        )), '') as company_key
    from person_names

),

email_parts as materialized (

    select
        *,
        nullif(split_part(email_lower, '@', 1), '') as email_local_raw,
        case split_part(email_lower, '@', 2)
            when 'googlemail.com' then 'gmail.com'
            else nullif(split_part(email_lower, '@', 2), '')
        end as email_domain
    from company_names

),

-- the provider ignores dots (gmail) and +tags: fold them away for the match key only
email_keys as materialized (

    select
        *,
        case
            when email_domain = 'gmail.com' then replace(split_part(email_local_raw, '+', 1), '.', '')
            else split_part(email_local_raw, '+', 1)
        end as email_local
    from email_parts

),

with_nickname_roots as materialized (

    select
        email_keys.*,
        coalesce(nicknames.root_name, split_part(email_keys.first_name_key, ' ', 1)) as first_name_root
    from email_keys
    left join nicknames
        on split_part(email_keys.first_name_key, ' ', 1) = nicknames.nickname

),

-- the name that identifies the record: the person's first and last name, or the company's name
with_name_keys as materialized (

    select
        *,
        case
            when entity_type = 'person' then nullif(concat_ws(' ', first_name_key, last_name_key), '')
            else company_key
        end as name_key
    from with_nickname_roots

),

keyed as (

    select
        {{ canonical_columns | join(',\n        ') }},
        first_name_key,
        first_name_root,
        last_name_key,
        {{ soundex_code('last_name_key') }} as last_name_soundex,
        name_key,
        name_key !~ '[^a-z0-9 ]' as is_name_latin,
        {{ sorted_tokens('name_key') }} as name_tokens_sorted,
        {{ sorted_initials('name_key') }} as name_initials,
        {{ token_prefixes('name_key', 3) }} as name_token_prefixes,
        company_key,
        case when email_local is not null and email_domain is not null then email_local || '@' || email_domain end
            as email_key,
        email_local,
        email_domain,
        coalesce(
            regexp_replace(email_local, '[^a-z]', '', 'g') in (
                replace(first_name_key || last_name_key, ' ', ''),
                replace(last_name_key || first_name_key, ' ', ''),
                replace(left(first_name_key, 1) || last_name_key, ' ', ''),
                replace(first_name_key || left(last_name_key, 1), ' ', ''),
                replace(last_name_key || left(first_name_key, 1), ' ', '')
            ),
            false
        ) as is_email_local_name,
        phone_digits,
        right(phone_digits, 9) as phone_tail,
        address_folded as address_key,
        substring(address_folded from '[0-9]+') as house_number,
        postcode_key,
        city_key,
        national_id_key
    from with_name_keys

),

-- how common the record's name is among the records of its entity type (the names' term frequency)
name_counts as (

    select
        *,
        case
            when name_tokens_sorted is not null
                then count(*) over (partition by entity_type, name_tokens_sorted)
        end as records_with_name,
        count(name_tokens_sorted) over (partition by entity_type) as records_named
    from keyed

),

final as (

    select
        {{ canonical_columns | join(',\n        ') }},
        first_name_key,
        first_name_root,
        last_name_key,
        last_name_soundex,
        name_key,
        is_name_latin,
        name_tokens_sorted,
        name_initials,
        name_token_prefixes,
        records_with_name::double precision / nullif(records_named, 0) as name_frequency,
        avg(records_with_name) over (partition by entity_type) / nullif(records_named, 0) as name_frequency_typical,
        company_key,
        email_key,
        email_local,
        email_domain,
        is_email_local_name,
        phone_digits,
        phone_tail,
        address_key,
        house_number,
        postcode_key,
        city_key,
        national_id_key
    from name_counts

)

select * from final
