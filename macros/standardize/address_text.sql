{#-
    A postal address kept as one line of free text (the support desk's `details`, e.g.
    "44 Saunders Court, Flat 2, S8 8SS Reevesside, GBR"), split into the raw address columns that the
    shared standardization steps read. The comma-separated parts are read like this:
      - the last part is the country when it names one (stg_reference__country_aliases) and is not the
        only part, or when it is one of three or more parts, has no digit and follows a part with one
        (a spelling the seed does not know yet: kept as the raw country, so staging flags it);
      - of the other parts, the first is address line 1 (with the second when that is a house number
        alone, as in "Calle Mayor, 12") and the last (when there are two or more) is the place: the
        postcode and the city, and in some countries a region ("Maynardhaven DC 20013");
      - parts between them are address line 2.
    In the place, the postcode is the first of the first two words, the last two words, the first word
    or the last word whose compact form fits the country's postcode pattern (ref_country_codes; 3 to
    10 digits when the country has no pattern or none was found). Left of a postcode at the end, a
    word of two or three capitals is the region. The words left over are the city.

    `relation` has a column `text_column` and none of the raw address columns; the last CTE,
    `address_text_split`, adds address_line1_raw, address_line2_raw, city_raw, postcode_raw,
    region_raw and country_raw. Put `standardized_customer_record_ctes('address_text_split')` after it.
-#}
{% macro free_text_address_ctes(relation, text_column) -%}
    {{ return(adapter.dispatch('free_text_address_ctes', 'customer_sync')(relation, text_column)) }}
{%- endmacro %}

{% macro default__free_text_address_ctes(relation, text_column) -%}
    {{ exceptions.raise_compiler_error(
        "free_text_address_ctes has no implementation for adapter " ~ adapter.type()
        ~ "; add one in macros/standardize/address_text.sql") }}
{%- endmacro %}

{#- The test whether `words_expr` (text) is a postcode of the place's country. -#}
{% macro is_place_postcode(words_expr) -%}
    {{ regex_matches(postcode_without_separators(words_expr), 'place_postcode_regex') }}
{%- endmacro %}

{% macro postgres__free_text_address_ctes(relation, text_column) -%}

address_text_parts as materialized (

    select
        {{ relation }}.*,
        array_remove(
            regexp_split_to_array({{ clean_text(relation ~ '.' ~ text_column) }}, '[[:space:]]*[,;][[:space:]]*'),
            ''
        ) as address_text_parts
    from {{ relation }}

),

{#- the last part, when it names a country -#}
address_text_country as materialized (

    select
        address_text_parts.*,
        text_country_aliases.country_code as address_text_country_code,
        coalesce(nullif(text_country_codes.postcode_regex, ''), '^[0-9]{3,10}$') as place_postcode_regex,
        text_country_aliases.country_code is not null
        or coalesce(
            cardinality(address_text_parts.address_text_parts) >= 3
            and not {{ regex_matches(
                'address_text_parts.address_text_parts[cardinality(address_text_parts.address_text_parts)]',
                "'[0-9]'") }}
            and {{ regex_matches(
                'address_text_parts.address_text_parts[cardinality(address_text_parts.address_text_parts) - 1]',
                "'[0-9]'") }},
            false
        ) as has_address_text_country
    from address_text_parts
    left join {{ ref('stg_reference__country_aliases') }} as text_country_aliases
        on cardinality(address_text_parts.address_text_parts) >= 2
        and {{ country_lookup_key(
            'address_text_parts.address_text_parts[cardinality(address_text_parts.address_text_parts)]') }}
        = text_country_aliases.alias_key
    left join {{ ref('ref_country_codes') }} as text_country_codes
        on text_country_aliases.country_code = text_country_codes.alpha2

),

address_text_counted as materialized (

    select
        *,
        cardinality(address_text_parts) - case when has_address_text_country then 1 else 0 end
            as address_text_line_count,
        case
            when cardinality(address_text_parts) - case when has_address_text_country then 1 else 0 end >= 3
                and {{ regex_matches('address_text_parts[2]', "'^[0-9]+[A-Za-z]?$'") }} then 2
            else 1
        end as address_text_line1_parts
    from address_text_country

),

address_text_lines as materialized (

    select
        *,
        array_to_string(address_text_parts[1:address_text_line1_parts], ', ') as address_text_line1,
        case
            when address_text_line_count >= address_text_line1_parts + 2
                then nullif(array_to_string(
                    address_text_parts[address_text_line1_parts + 1:address_text_line_count - 1], ', '
                ), '')
        end as address_text_line2,
        case
            when address_text_line_count >= 2
                then string_to_array(address_text_parts[address_text_line_count], ' ')
        end as place_words,
        case
            when has_address_text_country then address_text_parts[cardinality(address_text_parts)]
        end as address_text_country
    from address_text_counted

),

{#- where in the place the postcode is -#}
address_text_postcode_found as materialized (

    select
        *,
        case
            when cardinality(place_words) >= 2
                and {{ is_place_postcode("place_words[1] || ' ' || place_words[2]") }} then 'first_two'
            when cardinality(place_words) >= 3
                and {{ is_place_postcode(
                    "place_words[cardinality(place_words) - 1] || ' ' || place_words[cardinality(place_words)]"
                ) }} then 'last_two'
            when {{ is_place_postcode('place_words[1]') }} then 'first'
            when cardinality(place_words) >= 2
                and {{ is_place_postcode('place_words[cardinality(place_words)]') }} then 'last'
        end as place_postcode_position
    from address_text_lines

),

address_text_postcode_taken as materialized (

    select
        *,
        case place_postcode_position
            when 'first_two' then array_to_string(place_words[1:2], ' ')
            when 'last_two' then array_to_string(place_words[cardinality(place_words) - 1:cardinality(place_words)], ' ')
            when 'first' then place_words[1]
            when 'last' then place_words[cardinality(place_words)]
        end as place_postcode,
        case place_postcode_position
            when 'first_two' then place_words[3:cardinality(place_words)]
            when 'last_two' then place_words[1:cardinality(place_words) - 2]
            when 'first' then place_words[2:cardinality(place_words)]
            when 'last' then place_words[1:cardinality(place_words) - 1]
            else place_words
        end as place_other_words
    from address_text_postcode_found

),

{#- a region code written between the city and a postcode at the end -#}
address_text_region_taken as materialized (

    select
        *,
        coalesce(
            place_postcode_position in ('last', 'last_two')
            and cardinality(place_other_words) >= 2
            and {{ regex_matches('place_other_words[cardinality(place_other_words)]', "'^[A-Z]{2,3}$'") }},
            false
        ) as has_place_region
    from address_text_postcode_taken

),

address_text_split as (

    select
        *,
        address_text_line1 as address_line1_raw,
        address_text_line2 as address_line2_raw,
        case
            when has_place_region then array_to_string(place_other_words[1:cardinality(place_other_words) - 1], ' ')
            else nullif(array_to_string(place_other_words, ' '), '')
        end as city_raw,
        place_postcode as postcode_raw,
        case when has_place_region then place_other_words[cardinality(place_other_words)] end as region_raw,
        address_text_country as country_raw
    from address_text_region_taken

),

{%- endmacro %}
