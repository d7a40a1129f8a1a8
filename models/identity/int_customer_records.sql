{#-
    Every live source record in one shape, with the keys that blocking and comparisons use. The values
    are as entered outside the hub (int_customer_entered_records): the hub's own writes are not evidence.

    Incremental: a record's keys are a function of its own row, the nicknames seed and this SQL (how
    common a name is, a statistic over all records, is kept apart in int_customer_name_frequencies).
    `entered_hash` is the md5 of the record's entered row and `entered_at` when a build first wrote that
    row (both from int_customer_entered_records): a build keys only the records entered after the
    newest `entered_at` here, and deletes the records no longer entered. `keyed_by` fingerprints this SQL and
    everything upstream of it (macros/standardize/landed_changes.sql): when it differs, every record is
    keyed again, as with --full-refresh. Each row written carries the build's start (`recorded_at`,
    indexed), for int_customer_field_winners to find the records written after it chose.
-#}
{%- set canonical_columns = canonical_record_column_names() -%}
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
{%- set keying_steps -%}

-- a person record without a company name whose full name reads like a company (it has a legal form)
-- is a company, as staging decides for billing names: a source may keep company customers as names
classified as materialized (

    select
        *,
        {{ is_company_by_name('entity_type', 'company_name', 'full_name') }} as is_company_by_name
    from changed

),

typed as materialized (

    select
        {{ typed_columns | join(',\n        ') }},
        entered_hash,
        entered_at
    from classified

),

-- folding is the costly part of the keys, and many records share a value (first names, cities, a
-- full name that is also a company name): every distinct text is folded once, then looked up
texts as (

    select distinct texts.text_value
    from typed
    cross join
        lateral (
            values
            (typed.first_name),
            (typed.last_name),
            (typed.full_name),
            (replace(typed.full_name, '.', '')),
            (replace(typed.company_name, '.', '')),
            (concat_ws(' ', typed.address_line1, typed.address_line2)),
            (typed.city)
        ) as texts (text_value)
    where texts.text_value is not null

),

folded_texts as materialized (

    select
        text_value,
        {{ fold_for_matching('text_value') }} as folded_value
    from texts

),

folded as (

    select
        typed.*,
        first_names.folded_value as first_name_folded,
        last_names.folded_value as last_name_folded,
        full_names.folded_value as full_name_folded,
        full_company_names.folded_value as full_name_company_folded,
        company_names.folded_value as company_name_folded,
        addresses.folded_value as address_folded,
        cities.folded_value as city_key,
        lower(trim(typed.email)) as email_lower,
        nullif(regexp_replace(typed.phone, '[^0-9]', '', 'g'), '') as phone_digits,
        nullif(upper(regexp_replace(typed.postcode, '[^[:alnum:]]', '', 'g')), '') as postcode_key,
        nullif(upper(regexp_replace(typed.national_id, '[^[:alnum:]]', '', 'g')), '') as national_id_key
    from typed
    left join folded_texts as first_names on typed.first_name = first_names.text_value
    left join folded_texts as last_names on typed.last_name = last_names.text_value
    left join folded_texts as full_names on typed.full_name = full_names.text_value
    left join folded_texts as full_company_names
        on replace(typed.full_name, '.', '') = full_company_names.text_value
    left join folded_texts as company_names
        on replace(typed.company_name, '.', '') = company_names.text_value
    left join folded_texts as addresses
        on concat_ws(' ', typed.address_line1, typed.address_line2) = addresses.text_value
    left join folded_texts as cities on typed.city = cities.text_value

),

-- a person with only a full name gets first = first token, last = the rest
person_names as (

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

email_parts as (

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
email_keys as (

    select
        *,
        case
            when email_domain = 'gmail.com' then replace(split_part(email_local_raw, '+', 1), '.', '')
            else split_part(email_local_raw, '+', 1)
        end as email_local
    from email_parts

),

with_nickname_roots as (

    select
        email_keys.*,
        coalesce(nicknames.root_name, split_part(email_keys.first_name_key, ' ', 1)) as first_name_root
    from email_keys
    left join nicknames
        on split_part(email_keys.first_name_key, ' ', 1) = nicknames.nickname

),

-- the name that identifies the record: the person's first and last name, or the company's name
with_name_keys as (

    select
        *,
        case
            when entity_type = 'person' then nullif(concat_ws(' ', first_name_key, last_name_key), '')
            else company_key
        end as name_key
    from with_nickname_roots

),

keyed as materialized (

    select
        {{ canonical_columns | join(',\n        ') }},
        first_name_key,
        first_name_root,
        last_name_key,
        {{ soundex_code('last_name_key') }} as last_name_soundex,
        name_key,
        -- the name comparisons also compare the whole name without spaces (a name split differently
        -- between the fields); kept, so that a comparison does not remove them again at every use
        replace(name_key, ' ', '') as name_key_unspaced,
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
        national_id_key,
        entered_hash,
        entered_at
    from with_name_keys

),

-- the bigrams of the name keys, which the comparisons' bigram similarity reads: many records share a
-- name, so every distinct key is cut into grams once (1.6 s for 193,000 records at 100k persons,
-- against 5.4 s for every record's three keys), then looked up
name_keys as (

    select distinct name_keys.name_value
    from keyed
    cross join
        lateral (
            values (keyed.first_name_key), (keyed.last_name_key), (keyed.company_key)
        ) as name_keys (name_value)
    where name_keys.name_value is not null

),

name_grams as materialized (

    select
        name_value,
        {{ char_ngrams('name_value') }} as grams
    from name_keys

),

with_grams as (

    select
        keyed.*,
        first_name_grams.grams as first_name_grams,
        last_name_grams.grams as last_name_grams,
        company_grams.grams as company_grams
    from keyed
    left join name_grams as first_name_grams on keyed.first_name_key = first_name_grams.name_value
    left join name_grams as last_name_grams on keyed.last_name_key = last_name_grams.name_value
    left join name_grams as company_grams on keyed.company_key = company_grams.name_value

)
{%- endset -%}
{%- set fingerprint = model_fingerprint(keying_steps) -%}
{{ changed_rows_config(['record_id'], 'int_customer_entered_records') }}
{{ config(post_hook=[
    "{{ create_matching_index(this, ['recorded_at']) }}",
    "{{ create_matching_index(this, ['entered_at']) }}"
]) }}

with

entered_records as (

    select * from {{ ref('int_customer_entered_records') }}

),

nicknames as (

    select * from {{ ref('ref_nicknames') }}

),

live_records as (

    select
        {{ canonical_columns | join(',\n        ') }},
        entered_hash,
        entered_at
    from entered_records

),

{{ changed_rows_cte(
    'live_records', fingerprint, ['record_id'], 'entered_hash', 'keyed_by', since_column='entered_at',
    since_relation=ref('int_customer_entered_records')
) }}

{{ keying_steps }},

final as (

    select
        *,
        {{ fingerprint_value(fingerprint) }} as keyed_by,
        -- when a build wrote the row: readers that keep up to when they took the records find the newer ones
        {{ build_timestamp() }} as recorded_at
    from with_grams

)

select * from final
