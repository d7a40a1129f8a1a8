{#-
    The comparison vector: for a pair of records, one graded level per field. Higher is closer;
    0 means the values differ; null means a value is missing on either side (no evidence either way).
    The levels are described in seeds/match_parameters.csv, which must list every level used here.

    The comparison macros read a relation with the record columns suffixed `_l` and `_r`, as produced
    by `paired_record_columns()`.
-#}

{% macro matching_comparisons() -%}
    {{ return([
        'first_name', 'last_name', 'company_name', 'email', 'phone', 'location', 'birth_date', 'national_id',
    ]) }}
{%- endmacro %}


{#- The record columns a comparison needs, for the left and right record of a pair. -#}
{% macro matching_record_columns() -%}
    {{ return([
        'record_id', 'entity_type', 'first_name_key', 'first_name_root', 'last_name_key', 'last_name_soundex',
        'first_name_grams', 'last_name_grams',
        'name_key', 'name_key_unspaced', 'is_name_latin', 'name_tokens_sorted', 'company_key', 'company_grams',
        'email_key', 'email_local', 'email_domain',
        'is_email_local_name', 'phone_digits',
        'phone_tail', 'address_key', 'house_number', 'postcode_key', 'city_key', 'birth_date',
        'national_id_key',
    ]) }}
{%- endmacro %}


{#-
    Select list pairing two records. A person whose first and last names are swapped in one copy is
    compared with the names put back in place.
-#}
{% macro paired_record_columns(l, r) -%}
    {%- set swapped -%}
        ({{ l }}.first_name_key = {{ r }}.last_name_key and {{ l }}.last_name_key = {{ r }}.first_name_key
        and {{ l }}.first_name_key <> {{ l }}.last_name_key)
    {%- endset -%}
    {%- for column in matching_record_columns() %}
    {{ l }}.{{ column }} as {{ column }}_l,
    {%- endfor %}
    {%- for column in matching_record_columns() %}
    {%- if column == 'first_name_key' %}
    case when {{ swapped }} then {{ r }}.last_name_key else {{ r }}.first_name_key end as first_name_key_r,
    {%- elif column == 'first_name_root' %}
    case when {{ swapped }} then {{ r }}.last_name_key else {{ r }}.first_name_root end as first_name_root_r,
    {%- elif column == 'last_name_key' %}
    case when {{ swapped }} then {{ r }}.first_name_key else {{ r }}.last_name_key end as last_name_key_r,
    {%- elif column == 'first_name_grams' %}
    case when {{ swapped }} then {{ r }}.last_name_grams else {{ r }}.first_name_grams end as first_name_grams_r,
    {%- elif column == 'last_name_grams' %}
    case when {{ swapped }} then {{ r }}.first_name_grams else {{ r }}.last_name_grams end as last_name_grams_r,
    {%- else %}
    {{ r }}.{{ column }} as {{ column }}_r,
    {%- endif %}
    {%- endfor %}
    coalesce({{ swapped }}, false) as is_name_swapped
{%- endmacro %}


{#- One `<comparison>_level` column per comparison. -#}
{% macro comparison_levels() -%}
    {%- for comparison in matching_comparisons() %}
    {{ context['compare_' ~ comparison]() }} as {{ comparison }}_level{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}


{#-
    Term-frequency adjustment of an exact name agreement (persons: same first and last name; companies:
    same name): log2(typical name frequency / this name's frequency), read from the pair's
    name_frequency_ratio (the records sharing a typical name, as trained, over those sharing this one). Two "James Smith" records are weaker evidence than two "Ottoline Quist"
    records, which the per-level weights (estimated over all names) cannot tell apart. Capped above at
    var('name_frequency_weight_cap') so that a rare name alone never outweighs a contradiction; 0 for
    any other pair.
-#}
{% macro name_frequency_weight(relation) -%}
    case
        when {{ relation }}.name_frequency_ratio > 0
            and (
                ({{ relation }}.entity_type = 'person'
                    and {{ relation }}.first_name_level = 4 and {{ relation }}.last_name_level = 4)
                or ({{ relation }}.entity_type = 'company' and {{ relation }}.company_name_level = 3)
            )
            then least(ln({{ relation }}.name_frequency_ratio) / ln(2), {{ var('name_frequency_weight_cap') }})
        else 0
    end
{%- endmacro %}


{#- 4 same first name (also when the name parts are only split differently), 3 same nickname root
    (or roots one typo apart: catherine / katherine), 2 one typo apart or similar (also the whole
    names one typo apart once spaces are removed), 1 an initial or a shortened form, 0 different.
    Null when a value is missing, or when one name is written in Latin letters and the other in a
    script that cannot be spelled in Latin letters here (CJK): they cannot be compared. -#}
{% macro compare_first_name() -%}
    case
        when first_name_key_l is null or first_name_key_r is null then null
        when is_name_latin_l <> is_name_latin_r then null
        when first_name_key_l = first_name_key_r or name_key_unspaced_l = name_key_unspaced_r then 4
        when first_name_root_l = first_name_root_r
            or (length(first_name_root_l) >= 5 and {{ within_one_edit('first_name_root_l', 'first_name_root_r') }}) then 3
        when {{ within_one_edit('first_name_key_l', 'first_name_key_r') }}
            or {{ grams_jaccard_at_least('first_name_grams_l', 'first_name_grams_r', 0.6) }}
            or {{ within_one_edit('name_key_unspaced_l', 'name_key_unspaced_r') }} then 2
        when left(first_name_key_l, length(first_name_key_r)) = first_name_key_r
            or left(first_name_key_r, length(first_name_key_l)) = first_name_key_l then 1
        else 0
    end
{%- endmacro %}


{#- 4 same, 3 one typo apart, 2 similar (shared bigrams or sound), 0 different; null as for first names
    when the two names are in scripts that cannot be compared. -#}
{% macro compare_last_name() -%}
    case
        when last_name_key_l is null or last_name_key_r is null then null
        when is_name_latin_l <> is_name_latin_r then null
        when last_name_key_l = last_name_key_r or name_key_unspaced_l = name_key_unspaced_r then 4
        when {{ within_one_edit('last_name_key_l', 'last_name_key_r') }} then 3
        when last_name_soundex_l = last_name_soundex_r
            or {{ grams_jaccard_at_least('last_name_grams_l', 'last_name_grams_r', 0.6) }}
            or {{ token_jaccard('last_name_key_l', 'last_name_key_r') }} >= 0.5 then 2
        else 0
    end
{%- endmacro %}


{#- The company's own name (companies) or employer (persons), legal forms removed:
    3 same, 2 same words in another order or one typo apart, 1 similar, 0 different. -#}
{% macro compare_company_name() -%}
    case
        when company_key_l is null or company_key_r is null then null
        when company_key_l = company_key_r then 3
        when (entity_type_l = 'company' and name_tokens_sorted_l = name_tokens_sorted_r)
            or {{ within_one_edit('company_key_l', 'company_key_r') }} then 2
        when {{ grams_jaccard_at_least('company_grams_l', 'company_grams_r', 0.6) }}
            or {{ token_jaccard('company_key_l', 'company_key_r') }} >= 0.5 then 1
        else 0
    end
{%- endmacro %}


{#- 3 same address after folding provider quirks (gmail dots, +tags), 2 same mailbox at another
    domain or one typo apart, 1 another mailbox at the same domain (a company's info@ and billing@),
    0 different. A mailbox that only spells the person's name (john.smith@) at another domain is no
    evidence beyond the names, which are compared on their own: that pair is null, so two namesakes
    are not matched on their names twice. So are two different mailboxes that both spell the name
    (kerryluna@ / kerryluna2@, charles_valencia@ / charlesvalencia@): providers number namesakes
    apart, so one edit between them says nothing about being the same person. -#}
{% macro compare_email() -%}
    case
        when email_key_l is null or email_key_r is null then null
        when email_key_l = email_key_r then 3
        when is_email_local_name_l and is_email_local_name_r and email_local_l <> email_local_r then null
        when {{ within_one_edit('email_key_l', 'email_key_r') }} then 2
        when email_local_l = email_local_r and (is_email_local_name_l or is_email_local_name_r) then null
        when email_local_l = email_local_r then 2
        when email_domain_l = email_domain_r then 1
        else 0
    end
{%- endmacro %}


{#- 3 same number, 2 same last nine digits (another country prefix) or one typo apart, 0 different. -#}
{% macro compare_phone() -%}
    case
        when phone_digits_l is null or phone_digits_r is null then null
        when phone_digits_l = phone_digits_r then 3
        when phone_tail_l = phone_tail_r or {{ within_one_edit('phone_digits_l', 'phone_digits_r') }} then 2
        else 0
    end
{%- endmacro %}


{#-
    Where the customer is, as one comparison (street lines 1 and 2 together, postcode, city), because
    the three agree and disagree together (a customer who moved changes all of them):
    4 same street lines and same postcode (or city when a postcode is missing),
    3 similar street lines (mostly the same words, or same house number and a similar street, or one
    street line followed by more words in the other, as when postcode, city and country are written
    into the street line) in the same postcode or city, 2 same postcode only, 1 same city only or
    postcode one typo apart,
    0 different; null when no part is known on both sides.
-#}
{% macro compare_location() -%}
    case
        when (address_key_l is null or address_key_r is null)
            and (postcode_key_l is null or postcode_key_r is null)
            and (city_key_l is null or city_key_r is null) then null
        when address_key_l = address_key_r
            and coalesce(postcode_key_l = postcode_key_r, city_key_l = city_key_r, true) then 4
        {#- the place first: it is cheap, and the street similarity only matters within one place #}
        when coalesce(postcode_key_l = postcode_key_r, city_key_l = city_key_r, true)
            and ({{ token_jaccard('address_key_l', 'address_key_r') }} >= 0.6
                or (house_number_l = house_number_r and {{ ngram_jaccard('address_key_l', 'address_key_r') }} >= 0.4)
                or address_key_l like address_key_r || ' %'
                or address_key_r like address_key_l || ' %') then 3
        when postcode_key_l = postcode_key_r then 2
        when city_key_l = city_key_r or {{ within_one_edit('postcode_key_l', 'postcode_key_r') }} then 1
        else 0
    end
{%- endmacro %}


{#- 2 same date, 1 a keying error apart (one part differs, day and month swapped, a day apart),
    0 different: a strong sign of two different people. -#}
{% macro compare_birth_date() -%}
    case
        when birth_date_l is null or birth_date_r is null then null
        when birth_date_l = birth_date_r then 2
        when {{ dates_nearly_equal('birth_date_l', 'birth_date_r') }} then 1
        else 0
    end
{%- endmacro %}


{#- 2 same national or tax id, 1 one typo apart, 0 different: a strong sign of two different customers. -#}
{% macro compare_national_id() -%}
    case
        when national_id_key_l is null or national_id_key_r is null then null
        when national_id_key_l = national_id_key_r then 2
        when {{ within_one_edit('national_id_key_l', 'national_id_key_r') }} then 1
        else 0
    end
{%- endmacro %}
