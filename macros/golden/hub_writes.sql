{#-
    The body of a CTE over the sync's ledger (source ops.sync_operations). Before the first sync the
    ledger does not exist yet; the CTE is then empty, with the same columns, so a model reads it the same
    way in both cases. A model that calls this needs `-- depends_on: {{ source('ops', 'sync_operations') }}`.
-#}
{% macro sync_ledger_operations() -%}
    {%- set ledger = adapter.get_relation(database=target.database, schema='ops', identifier='sync_operations')
        if execute else none -%}
    {%- if ledger -%}
    select * from {{ source('ops', 'sync_operations') }}
    {%- else -%}
    -- no sync has run yet: an empty ledger of the same shape
    select
        cast(null as text) as target,  -- noqa: RF04
        cast(null as text) as object_type,
        cast(null as text) as record_id,
        cast(null as text) as status,
        cast(null as timestamptz) as attempted_at,
        cast(null as timestamptz) as finished_at,
        cast(null as bigint) as landed_updated_ms
    where false
    {%- endif -%}
{%- endmacro %}


{#-
    The relation a model of the previous build left in `layer` (marts, identity ...), or none: for a model
    that must compare with the last build's output of a model downstream of it (which a ref would make a
    cycle). Schemas follow generate_schema_name, so `evaluate`'s own schemas are respected.
-#}
{% macro previous_build_relation(layer, identifier) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(adapter.get_relation(
        database=target.database,
        schema=generate_schema_name(layer, none) | trim,
        identifier=identifier,
    )) }}
{%- endmacro %}


{#-
    Whether a record's landed update time `updated_at` falls within a hub write that was sent at
    `attempted_at` and ended at `finished_at`, give or take var('sync_clock_slack_seconds') (the two
    clocks are not the same clock): then that write was the record's last change. False when there was
    no write (null times).
-#}
{% macro is_within_hub_write(updated_at, attempted_at, finished_at) -%}
    {%- set slack = var('sync_clock_slack_seconds', 2) -%}
    coalesce(
        {{ updated_at }}
        between {{ attempted_at }} - interval '{{ slack }} seconds'
        and {{ finished_at }} + interval '{{ slack }} seconds',
        false
    )
{%- endmacro %}


{#- int_customer_entered_records: the kept row's hash, stamp and columns (previous_<column>, from CTE
    `kept_records`) next to the row, for the stamps; nulls when the kept table has no stamps. Ends
    with a comma. -#}
{% macro kept_stamp_columns(kept_stamped, canonical_columns) -%}
    {%- if kept_stamped -%}
        kept_records.entered_hash as kept_entered_hash,
        kept_records.entered_at as kept_entered_at,
        {% for column in canonical_columns -%}
            kept_records.{{ column }} as previous_{{ column }},
        {% endfor -%}
    {%- else -%}
        cast(null as text) as kept_entered_hash,
        cast(null as timestamptz) as kept_entered_at,
    {%- endif %}
{%- endmacro %}
