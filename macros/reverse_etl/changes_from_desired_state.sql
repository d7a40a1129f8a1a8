{#-
    The changes to make in a target: the rows of its desired state where the hub owns (or may write)
    the field and has a value to write, as old_value -> new_value. The whole model body of
    <target>_changes, so the four targets share one definition.
-#}
{% macro changes_from_desired_state(desired_state) -%}

with

desired_state as (
    select * from {{ desired_state }}
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

{%- endmacro %}
