{#-
    The blocking rules: each rule's name and the SQL expression of its key over int_customer_records'
    columns (null: the record has no key under that rule). Used by int_customer_blocking_keys, and by
    int_customer_pairs to name the rules that found a pair.
-#}
{% macro blocking_rule_keys() -%}
    {%- set rules = {
    'email': "email_key",
    'phone': "case when length(phone_digits) >= 7 then phone_digits end",
    'national_id': "national_id_key",
    'last_name_postcode': "case when entity_type = 'person' then last_name_key || '|' || postcode_key end",
    'first_name_birth_date': "case when entity_type = 'person' then first_name_root || '|' || birth_date end",
    'last_name_sound_birth_date': "last_name_soundex || '|' || birth_date",
    'company_city': "case when entity_type = 'company' then company_key || '|' || city_key end",
    'name_prefixes_country': "name_token_prefixes || '|' || country_code",
    'name_tokens': "name_tokens_sorted",
    'email_mailbox_name': "email_local || '|' || left(name_initials, 1)",
} -%}
    {{ return(rules) }}
{%- endmacro %}


{#- A pair's rules as one comma-separated list in name order, from bit_or() of blocking_rule_bit() over its rules:
    a hash aggregate can then group the pairs (string_agg(... order by) needs a sort of every pair). -#}
{% macro blocking_rule_bit(rule_column) -%}
    case {{ rule_column }}
    {%- for rule in blocking_rule_keys() | sort %}
        when '{{ rule }}' then {{ 2 ** loop.index0 }}
    {%- endfor %}
    end
{%- endmacro %}

{% macro blocking_rule_names(bits_column) -%}
    concat_ws(
        ','
        {%- for rule in blocking_rule_keys() | sort %},
        case when {{ bits_column }} & {{ 2 ** loop.index0 }} <> 0 then '{{ rule }}' end
        {%- endfor %}
    )
{%- endmacro %}

{#- How many rules a pair's bits (blocking_rule_bit(), bit_or()-ed) hold; the same for bits or-ed twice. -#}
{% macro blocking_rule_count(bits_column) -%}
    (
        {%- for rule in blocking_rule_keys() | sort %}
        {{ '+ ' if not loop.first }}case when {{ bits_column }} & {{ 2 ** loop.index0 }} <> 0 then 1 else 0 end
        {%- endfor %}
    )
{%- endmacro %}
