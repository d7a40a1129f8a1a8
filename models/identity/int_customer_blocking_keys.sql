{#-
    One row per record and blocking rule: records that share a key become candidate pairs.
    Each rule is a cheap exact key; together they catch pairs that differ in any one field, and the
    fuzzy rules (initials, name prefixes, sound) survive a typo in a name. Blocks larger than
    var('max_block_size') are kept here with their size but produce no pairs.
-#}
{%- set blocking_rules = {
    'email': "email_key",
    'phone': "case when length(phone_digits) >= 7 then phone_digits end",
    'national_id': "national_id_key",
    'last_name_postcode': "case when entity_type = 'person' then last_name_key || '|' || postcode_key end",
    'first_name_birth_date': "case when entity_type = 'person' then first_name_root || '|' || birth_date end",
    'last_name_sound_birth_date': "last_name_soundex || '|' || birth_date",
    'company_city': "case when entity_type = 'company' then company_key || '|' || city_key end",
    'name_initials_postcode': "name_initials || '|' || postcode_key",
    'name_prefixes_country': "name_token_prefixes || '|' || country_code",
    'name_tokens': "name_tokens_sorted",
    'email_mailbox_name': "email_local || '|' || left(name_initials, 1)",
} -%}

with

records as (

    select * from {{ ref('int_customer_records') }}

),

keys as (

    {% for rule, expression in blocking_rules.items() %}
        select
            record_id,
            entity_type,
            '{{ rule }}' as blocking_rule,
            {{ expression }} as blocking_key
        from records
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

present_keys as (

    select * from keys
    where blocking_key is not null

),

sized as (

    select
        *,
        count(*) over (partition by entity_type, blocking_rule, blocking_key) as block_size
    from present_keys

),

final as (

    select
        record_id,
        entity_type,
        blocking_rule,
        blocking_key,
        block_size,
        block_size > {{ var('max_block_size', 50) }} as is_oversized_block
    from sized

)

select * from final
