{#- The canonical record (docs/contracts.md §4); standardization happens in the base model. -#}

with

country_codes as (

    select * from {{ ref('ref_country_codes') }}

),

candidate_lengths as (

    {% for length in range(1, 18) %}
        select {{ length }} as national_number_length
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

code_lengths as (

    select distinct
        country_codes.calling_code,
        candidate_lengths.national_number_length
    from country_codes
    inner join candidate_lengths
        on {{ is_length_in_list(
            "repeat('9', candidate_lengths.national_number_length)",
            'country_codes.national_number_lengths'
        ) }}
    where country_codes.calling_code is not null

),

country_counts as (

    select
        calling_code,
        count(*) as country_count
    from country_codes
    where calling_code is not null
    group by calling_code

),

final as (

    select
        code_lengths.calling_code,
        {{ dbt.listagg(
            "cast(code_lengths.national_number_length as " ~ dbt.type_string() ~ ")", "'|'",
            "order by code_lengths.national_number_length") }} as national_number_lengths,
        min(country_counts.country_count) as country_count
    from code_lengths
    inner join country_counts
        on code_lengths.calling_code = country_counts.calling_code
    group by code_lengths.calling_code

)

select * from final
