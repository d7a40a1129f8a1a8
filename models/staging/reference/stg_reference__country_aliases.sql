{#- The canonical record (docs/contracts.md §4); standardization happens in the base model. -#}
{%- set max_local_names = 16 -%}

with

country_codes as (

    select * from {{ ref('ref_country_codes') }}

),

name_positions as (

    {% for position in range(1, max_local_names + 1) %}
        select {{ position }} as name_position
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

aliases as (

    select
        alpha2 as country_code,
        alpha2 as spelling
    from country_codes
    union all
    select
        alpha2 as country_code,
        alpha3 as spelling
    from country_codes
    union all
    select
        alpha2 as country_code,
        country_name as spelling
    from country_codes
    union all
    select
        country_codes.alpha2 as country_code,
        split_part(country_codes.local_names, '|', name_positions.name_position) as spelling
    from country_codes
    cross join name_positions

),

keyed as (

    select distinct
        country_code,
        {{ country_lookup_key('spelling') }} as alias_key
    from aliases

),

-- a spelling shared by two countries identifies neither
unambiguous as (

    select
        alias_key,
        min(country_code) as country_code
    from keyed
    where alias_key is not null
    group by alias_key
    having count(distinct country_code) = 1

)

select * from unambiguous
