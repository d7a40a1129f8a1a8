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
{% macro desired_state_final(keyed_by, desired_value=none, relation='mapped', fingerprint=none) -%}
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
        {{ relation }}.record_updated_at as landed_updated_at
        {%- if fingerprint is not none %},
        {{ relation }}.desired_hash,
        {{ relation }}.planned_compared_at as compared_at,
        {{ fingerprint_value(fingerprint) }} as planned_by
        {%- endif %}
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
        -- only the records planned in this build (`changed`, see desired_state_changed_ctes)
        where cast({{ object_type }}.id as text) in (
            select changed.source_record_id from changed
            where changed.object_type = '{{ object_type }}'
        )
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


{#-
    Incremental desired states. A record's rows are a function of its rows in sync_field_comparisons,
    its landed row, and the model's field map, SQL and lookups (the ERP's countries). Its golden_id
    comparison row holds its compared_hash, which covers its landed row (a re-landed row has a new hash
    upstream, via the base model's landed_hash) and its golden record, and `compared_at`, the start of
    the build that last compared the record. sync_field_comparisons stamps every record it compares
    again, so a record's rows can have changed only if its golden_id row is stamped after the newest
    `compared_at` a desired state has taken (built_through): a build takes those records alone, found by
    the stamp's index, and plans again the ones whose `desired_hash` (their compared_hash) no built row
    has (all their rows replaced). It deletes the rows of records no longer in customer_xref.
    `planned_by` fingerprints the model, these macros, everything upstream and the content of the
    lookup table a model passes (desired_state_fingerprint): when it differs every record is planned
    again, as with --full-refresh.

    A model uses it as:
        {{ desired_state_config() }}
        {%- set fingerprint = desired_state_fingerprint() %}
        with all_comparisons as not materialized (…the target's rows…), …imports…,
        {{ desired_state_changed_ctes('all_comparisons', fingerprint) }}
        …field_map, landed_values, mapped…,
        final as ({{ desired_state_final(…, fingerprint=fingerprint) }})
-#}
{% macro desired_state_config() -%}
    {#- customer_xref has a row for every record of int_customer_records (as for sync_field_comparisons):
        the records gone from it are those the record key log names -#}
    {{ changed_rows_config(
        ['record_id'], 'customer_xref', ['record_id', 'native_field'], built_rows_where="field = 'golden_id'",
        hash_joins_only=true, logged_by='int_customer_records'
    ) }}
    {#- the built records' hashes are read from their golden_id rows (`changed`, and the rows of records
        no longer in customer_xref): an index of those rows answers both without reading the table -#}
    {#- and the newest stamp taken (built_through) is read from an index of those rows' stamps -#}
    {#- <target>_changes takes the rows to write (changes_from_desired_state), few once the targets hold
        the golden values, from an index of those rows alone: reading every row of the desired state for
        them took 0.1-0.2 s per target at 100k persons, in every build -#}
    {{ config(post_hook=[
        "{{ create_partial_index(this, 'golden_id_rows', ['record_id'], ['desired_hash'], \"field = 'golden_id'\") }}",
        "{{ create_partial_index(this, 'compared_at', ['compared_at'], [], \"field = 'golden_id'\") }}",
        "{{ create_partial_index(this, 'hub_writes', ['record_id'], [], 'is_hub_write and desired_value is not null') }}"
    ]) }}
{%- endmacro %}


{#- `record_hashes`, `changed` (the records to plan, with desired_hash, object_type and
    source_record_id, by which a model picks their landed rows) and `comparisons` (their rows of
    `all_comparisons`, with desired_hash and compared_at): CTEs ending with a comma. -#}
{% macro desired_state_changed_ctes(all_comparisons, fingerprint) -%}
{%- set extending = built_with_same_fingerprint(fingerprint, 'compared_at', 'planned_by') %}
-- the records compared since this table last took any (every record when it is built whole), each with
-- its inputs' hash and its update time as landed, from its golden_id row; materialized for the
-- anti-join of `changed`
record_hashes as materialized (
    select
        record_id,
        object_type,
        source_record_id,
        compared_hash as desired_hash,
        source_updated_at as record_updated_at,
        compared_at
    from {{ all_comparisons }}
    where
        field = 'golden_id'
        {%- if extending %}
        and compared_at > {{ built_through('compared_at', "field = 'golden_id'") }}
        {%- endif %}
),

{#- one built row per record: its golden_id row (every record has one) #}
{{ changed_rows_cte('record_hashes', fingerprint, ['record_id'], 'desired_hash', 'planned_by', "built.field = 'golden_id'") }}

comparisons as (
    select
        {{ all_comparisons }}.*,
        changed.desired_hash,
        changed.record_updated_at,
        changed.compared_at as planned_compared_at
    from {{ all_comparisons }}
    inner join changed on {{ all_comparisons }}.record_id = changed.record_id
    {%- if extending %}
    -- the few changed records' rows, found by the index on (record_id, field) as `= any` of one array:
    -- not a scan of every target's rows (a join by hash reads them all; the planner cannot know how few
    -- records `changed` holds)
    where {{ all_comparisons }}.record_id = any(array(select changed.record_id from changed))
    {%- endif %}
),
{%- endmacro %}


{#- The fingerprint of a desired state: its model's (model_fingerprint of the shared macros' text) and
    the content of `lookup`, a lookup table it reads (none: no lookup), as `lookup_sql` (a query of one
    value from it) hashes it when the model runs. A changed lookup then plans every record again; the
    records' stamps would not say. A lookup not landed yet (dbt compile or a linter on a new
    warehouse) adds nothing. -#}
{% macro desired_state_fingerprint(lookup=none, lookup_sql=none) -%}
    {%- set fingerprint = model_fingerprint(desired_state_macros_text()) -%}
    {%- if lookup is none or not execute
        or adapter.get_relation(database=lookup.database, schema=lookup.schema, identifier=lookup.identifier) is none -%}
        {{ return(fingerprint) }}
    {%- endif -%}
    {%- set lookup_hash = run_query(lookup_sql).columns[0].values()[0] -%}
    {{ return(local_md5(fingerprint ~ '#' ~ (lookup_hash or ''))) }}
{%- endmacro %}


{#- The shared macros above as rendered for one sample mapping of each kind: a desired state's
    fingerprint includes it, so a change to them plans every record again (a change to the hash in
    desired_state_changed_ctes changes every record's hash, which does the same). -#}
{% macro desired_state_macros_text() -%}
    {%- set sample_map = [('contacts', 'golden_id', 'mdm_golden_id')] -%}
    {%- set parts = [
        sync_field_map_values(sample_map, ['object_type', 'field', 'native_field']),
        sync_mapped_comparisons('object_type'),
        sync_mapped_comparisons('entity_type'),
        desired_state_final('object_type', fingerprint=''),
        desired_state_final('entity_type', 'mapped.golden_value', fingerprint=''),
        landed_values_by_object_type(sample_map, ['contacts']),
    ] -%}
    {{ return(parts | join('\n')) }}
{%- endmacro %}
