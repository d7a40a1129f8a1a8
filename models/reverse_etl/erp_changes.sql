-- The changes to make in erp: one row per record and field where the hub owns (or may write) the field
-- and the golden value differs from the landed one after standardization. The sync groups the rows of a
-- record into one operation and re-reads the record before writing it.
with

desired_state as (
    select * from {{ ref('erp_desired_state') }}
),

final as (
    select
        target_system,
        object_type,
        record_id,
        source_record_id,
        customer_id,
        field,
        native_field,
        owned_by,
        landed_value as old_value,
        desired_value as new_value,
        landed_updated_at,
        landed_load_id
    from desired_state
    where
        is_hub_write
        and desired_value is not null
)

select * from final
