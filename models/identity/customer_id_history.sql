{{
    config(
        materialized='incremental',
        unique_key='event_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}
{#-
    Every merge, split and move of golden ids, one row per event, appended build after build:
      merge  old_customer_id was retired; its records now belong to new_customer_id (the older id);
      split  records left old_customer_id (which lives on) and got the newly minted new_customer_id;
      move   records left old_customer_id for another existing customer new_customer_id.
    Events come from the rows int_customer_golden_ids changed since the last event recorded here.
-#}

with

golden_ids as (

    select * from {{ ref('int_customer_golden_ids') }}

),

changed_records as (

    select
        record_id,
        customer_id,
        previous_customer_id,
        change_type,
        changed_at
    from golden_ids
    where
        change_type in ('merged', 'split', 'moved')
    {% if is_incremental() %}
        and changed_at > (
            select coalesce(max(recorded.built_at), '-infinity'::timestamp with time zone)
            from {{ this }} as recorded
        )
    {% endif %}

),

events as (

    select
        changed_at as built_at,
        case change_type
            when 'merged' then 'merge'
            when 'split' then 'split'
            else 'move'
        end as event_type,
        previous_customer_id as old_customer_id,
        customer_id as new_customer_id,
        count(*) as record_count,
        string_agg(record_id, ',' order by record_id) as record_ids
    from changed_records
    group by changed_at, change_type, previous_customer_id, customer_id

),

final as (

    select
        md5(concat_ws('|', built_at::text, event_type, old_customer_id, new_customer_id)) as event_id,
        event_type,
        old_customer_id,
        new_customer_id,
        record_count::integer as record_count,
        record_ids,
        built_at
    from events

)

select * from final
