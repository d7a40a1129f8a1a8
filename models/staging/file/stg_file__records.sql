{#- The canonical record (docs/contracts.md §4); standardization happens in the base model. -#}
{{ config(enabled=(var('file_source_schema', '') | length > 0)) }}

with

base as (

    select * from {{ ref('base_file__records') }}

),

final as (

    select
        {{ canonical_record_columns() }}
    from base

)

select * from final
