{#-
    The parts every <target>_desired_state model shares. A model keeps what is its target's own: its
    field map (a Jinja list of tuples), the extraction of its landed values (CTE `landed_values`, one row
    per landed record and native field) and the formatting of the desired value.

    A target's mapping is keyed either by object type (crm: contacts/companies, support:
    users/organizations; field map columns object_type, field, native_field) or by entity type (billing
    customers, erp partners: one object whose `name` is the full or the company name; field map columns
    field, native_field, entity_type, where a null entity_type fits either).
-#}

{#-
    The body of the `field_map` CTE: the field map as a values list. Each row of `field_map` is a tuple
    whose first len(columns) items are the values (none becomes a null); further items are for the
    model's own use.
-#}
{% macro sync_field_map_values(field_map, columns) -%}
    select *
    from (
        values
        {% for row in field_map %}
            (
                {%- for value in row[:columns | length] -%}
                    {%- if value is none %}cast(null as text){% else %}'{{ value }}'{% endif -%}
                    {%- if not loop.last %}, {% endif -%}
                {%- endfor -%}
            ){% if not loop.last %},{% endif %}
        {% endfor %}
    ) as field_map ({{ columns | join(', ') }})
{%- endmacro %}


{#-
    The body of the `mapped` CTE: the target's rows of sync_field_comparisons (CTE `comparisons`) with
    the native field each maps to (CTE `field_map`); fields without a mapping drop out.
-#}
{% macro sync_mapped_comparisons(keyed_by) -%}
    {%- if keyed_by not in ['object_type', 'entity_type'] -%}
        {{ exceptions.raise_compiler_error("keyed_by must be 'object_type' or 'entity_type', not " ~ keyed_by) }}
    {%- endif -%}
    select
        comparisons.*,
        field_map.native_field
    from comparisons
    inner join field_map
        on
            {%- if keyed_by == 'object_type' %}
            comparisons.object_type = field_map.object_type
            and comparisons.field = field_map.field
            {%- else %}
            comparisons.field = field_map.field
            and (field_map.entity_type is null or comparisons.entity_type = field_map.entity_type)
            {%- endif %}
{%- endmacro %}


{#-
    The body of the `final` CTE: each mapped field (CTE `relation`) with its desired value next to the
    value as landed (CTE `landed_values`, which has an object_type column when keyed by object type).
    `desired_value` is the SQL expression of the value in the target's format; without it, the
    relation's own desired_value column.
-#}
{% macro desired_state_final(keyed_by, desired_value=none, relation='mapped') -%}
    {%- if keyed_by not in ['object_type', 'entity_type'] -%}
        {{ exceptions.raise_compiler_error("keyed_by must be 'object_type' or 'entity_type', not " ~ keyed_by) }}
    {%- endif -%}
    select
        {{ relation }}.target_system,
        {{ relation }}.object_type,
        {{ relation }}.record_id,
        {{ relation }}.source_record_id,
        {{ relation }}.customer_id,
        {{ relation }}.field,
        {{ relation }}.native_field,
        {{ relation }}.owned_by,
        {%- if desired_value is none %}
        {{ relation }}.desired_value,
        {%- else %}
        {{ desired_value }} as desired_value,
        {%- endif %}
        landed_values.landed_value,
        landed_values.landed_load_id,
        {{ relation }}.golden_value,
        {{ relation }}.current_value,
        {{ relation }}.is_different,
        {{ relation }}.is_target_newer,
        {{ relation }}.is_hub_write,
        {{ relation }}.source_updated_at as landed_updated_at
    from {{ relation }}
    left join landed_values
        on
            {%- if keyed_by == 'object_type' %}
            {{ relation }}.object_type = landed_values.object_type
            and {{ relation }}.source_record_id = landed_values.source_record_id
            {%- else %}
            {{ relation }}.source_record_id = landed_values.source_record_id
            {%- endif %}
            and {{ relation }}.native_field = landed_values.native_field
{%- endmacro %}


{#-
    Body of a <target>_desired_state model's `landed_values` CTE for targets keyed by object type (crm,
    support): one row per landed record and mapped native field, read from the CTE named like the object
    type; `column_prefix` is what dlt put before the native field's column (crm: properties__).
-#}
{% macro landed_values_by_object_type(field_map, object_types, column_prefix='') -%}
    {% for object_type in object_types %}
        select
            '{{ object_type }}' as object_type,
            cast({{ object_type }}.id as text) as source_record_id,
            cast({{ object_type }}._dlt_load_id as text) as landed_load_id,
            landed.native_field,
            landed.landed_value
        from {{ object_type }}
        cross join
            lateral (
                values
                {% for mapped_object, field, native_field in field_map if mapped_object == object_type %}
                    ('{{ native_field }}', cast({{ object_type }}.{{ column_prefix }}{{ native_field }} as text))
                    {%- if not loop.last %},{% endif %}
                {% endfor %}
            ) as landed (native_field, landed_value)
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
{%- endmacro %}


{#-
    Address lines 1 and 2 as the one street line of a system that has no second line (the CRM's
    `address`): "7691 Anderson St, Unit 19". Null when both are null.
-#}
{% macro street_address(line1, line2) -%}
    nullif(concat_ws(', ', {{ line1 }}, {{ line2 }}), '')
{%- endmacro %}
