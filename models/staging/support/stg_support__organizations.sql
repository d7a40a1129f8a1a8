{#- The canonical record (docs/contracts.md §4); standardization happens in the base model. -#}

with

base as (

    select * from {{ ref('base_support__organizations') }}

),

final as (

    select
        {{ canonical_record_columns() }}
    from base

)

select * from final
