-- depends_on: {{ source('ops', 'sync_operations') }}
{#-
    Every live source record with its values as people and systems entered them: a value the hub wrote
    itself (the golden value, pushed back by the sync) is replaced by the value the record had before.
    Matching and survivorship read these values, so the hub's own copies never count as new evidence: a
    phone the hub copied from a support user into an ERP partner must not make the ERP partner match a
    third record, and a customer must not change because the hub wrote its golden record back.

    The model keeps its previous build's output (the table itself, read before it is replaced). For each
    value, in this order:
    - a record not seen before: the value as landed;
    - the value as landed did not change since the last build: the value kept then;
    - the record's own clock says its last change was a hub write made since the last build (ledger
      ops.sync_operations, var sync_clock_slack_seconds): the value kept then, also for a value that only
      follows from the write (a phone that becomes valid once the hub wrote the country);
    - the hub wrote the record since the last build and the value as landed is the golden value of the
      record's customer at the last build (for systems without an update clock, like billing): the
      value kept then;
    - the hub wrote the record since the last build, a value staging derives others from changed to
      the golden value (the hub wrote it), and this value is derived from it: phone, postcode and birth
      date from the country (a national-format phone becomes valid E.164 once the country is known),
      first and last name from a full name written alone: the value kept then, as the clock rule does
      for systems with a clock;
    - otherwise (a change made outside the hub): the value as landed.
    A validity flag follows its value. Ids, deletion flags and clocks are always as landed.

    `entered_hash` is the md5 of the record's row in the canonical shape, and `entered_at` the start of
    the build that first wrote that row (kept while the hash stays the kept one): int_customer_records
    keys again only the records entered after its newest entered_at, without hashing every record.

    Incremental: a build decides again only the records whose base row was standardized after this
    table's newest `built_at` (`standardized_at`, indexed). Every other record's values as landed are
    its kept ones, so each value keeps the kept one, whether or not the hub wrote the record since: its
    row is as a build of every record would leave it. Records no longer live are deleted after the
    insert. Every record is decided again when this SQL or anything upstream of it changed
    (`entered_by`, macros/standardize/landed_changes.sql), or with --full-refresh.
-#}
{#- its readers (int_customer_records, and its own next build) read every row and join on record_id -#}
{{ config(
    materialized='incremental',
    unique_key='record_id',
    incremental_strategy='delete+insert',
    on_schema_change='sync_all_columns',
    meta={'analyze_columns': ['record_id']},
    post_hook=[
        "{{ create_unique_key_index(this, ['record_id']) }}",
        "{{ create_matching_index(this, ['built_at']) }}",
        "{{ delete_records_no_longer_live() }}",
    ],
) }}
{%- set record_sources = record_source_models() -%}
{#- the base models' stamps are read only by an incremental build: declared for the parser -#}
{%- for source_model in record_sources %}
-- depends_on: {{ ref(base_model_of(source_model)) }}
{%- endfor %}
{#- value column -> the columns that follow it (itself first) -#}
{%- set entered_values = {
    'entity_type': ['entity_type'],
    'first_name': ['first_name'],
    'last_name': ['last_name'],
    'full_name': ['full_name'],
    'email': ['email', 'is_email_valid'],
    'phone': ['phone', 'is_phone_valid'],
    'company_name': ['company_name'],
    'address_line1': ['address_line1'],
    'address_line2': ['address_line2'],
    'city': ['city'],
    'postcode': ['postcode'],
    'region': ['region'],
    'country_code': ['country_code'],
    'birth_date': ['birth_date'],
    'national_id': ['national_id'],
} -%}
{#-
    value -> the values staging derives from it: the country gives the calling code, the postcode format
    and the date order; a full name alone is split into first and last name
-#}
{%- set derived_values = {
    'country_code': ['phone', 'postcode', 'birth_date'],
    'full_name': ['first_name', 'last_name'],
} -%}
{%- set entered_columns = [] -%}
{%- for columns in entered_values.values() %}{% do entered_columns.extend(columns) %}{% endfor -%}
{#- ids, deletion flags and clocks: always as landed -#}
{%- set landed_columns = canonical_record_column_names() | reject('in', entered_columns) | list -%}
{%- set kept = previous_build_relation('identity', this.identifier) -%}
{%- set golden = previous_build_relation('marts', 'dim_customer') -%}
{%- set xref = previous_build_relation('marts', 'customer_xref') -%}
{%- set compare = kept is not none and golden is not none and xref is not none %}
{#- the stamps compare each row with the kept one, whether or not the values can be compared (a build
    without a golden record yet); a kept table from before the stamps has no entered_at: every record
    is stamped anew -#}
{%- set kept_stamped = kept is not none and 'entered_at' in (
    adapter.get_columns_in_relation(kept) | map(attribute='name') | list
) %}
{%- set canonical_columns = canonical_record_column_names() %}
{#- the model's file and everything upstream are in the fingerprint, and the hub-write rule with its slack -#}
{%- set fingerprint = model_fingerprint(
    is_within_hub_write('updated_at', 'attempted_at', 'finished_at') ~ '#' ~ (record_sources | join(','))
    ~ '#' ~ (canonical_columns | join(','))
) %}
{%- set extending = compare and kept_stamped
    and built_with_same_fingerprint(fingerprint, 'entered_hash', 'entered_by') %}

with

{% if extending -%}
{%- set through = built_through('built_at') %}
-- the records decided again: standardized since this table's newest build, read through the stamps'
-- indexes; every record of a base model without the stamps (the file source's, a view)
changed_records as materialized (

    {% for source_model in record_sources %}
        {%- set base_model = ref(base_model_of(source_model)) %}
        {%- if 'standardized_at' in (adapter.get_columns_in_relation(base_model) | map(attribute='name')) %}
            select record_id
            from {{ base_model }}
            where standardized_at > {{ through }}
        {%- else %}
            select record_id
            from {{ ref(source_model) }}
        {%- endif %}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

{% endif -%}

unioned as (

    {% for source_model in record_sources %}
        select
            {{ (landed_columns + entered_columns) | join(',\n            ') }}
        from {{ ref(source_model) }}
        {%- if extending %}
            where record_id in (select changed_records.record_id from changed_records)
        {%- endif %}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

live_records as (

    select * from unioned
    where not coalesce(is_deleted, false)

),

{% if compare -%}
    -- the last build's output of this model, of customer_xref and of dim_customer (before this build
    -- replaces them); this model's own is read twice but never materialized, so the planner sees the
    -- table's statistics (a hash join, not a sort of both sides)
    kept_records as not materialized (

        select * from {{ kept }}

    ),

    previous_xref as (

        select * from {{ xref }}

    ),

    previous_golden as (

        select * from {{ golden }}

    ),

    operations as (

        {{ sync_ledger_operations() }}

    ),

    -- records the hub wrote after the last build of this model, with the span of its writes
    written_since_kept as (

        select
            operations.target as source_system,
            operations.object_type as source_table,
            operations.record_id as source_record_id,
            max(operations.attempted_at) as last_attempted_at,
            max(operations.finished_at) as last_finished_at
        from operations
        where
            operations.status = 'applied'
            and operations.finished_at > (select max(kept_records.built_at) from kept_records)
        group by operations.target, operations.object_type, operations.record_id

    ),

    compared as (

        select
            live_records.*,
            kept_records.record_id is not null as was_kept,
            written_since_kept.source_record_id is not null as is_written_by_hub,
            -- the record's own clock says the hub's write was its last change: every change since the
            -- last build is the hub's, written or following from what it wrote (a phone that becomes
            -- valid because the hub wrote the record's country)
            {{ is_within_hub_write(
                'live_records.source_updated_at',
                'written_since_kept.last_attempted_at',
                'written_since_kept.last_finished_at'
            ) }} as is_changed_only_by_hub,
            -- the hub wrote the value since the last build (clockless systems included): it changed, to
            -- the golden value
            {% for value in derived_values %}
                (
                    written_since_kept.source_record_id is not null
                    and live_records.{{ value }} is distinct from kept_records.landed_{{ value }}
                    and live_records.{{ value }} is not distinct from previous_golden.{{ value }}
                ) as is_{{ value }}_written_by_hub,
            {% endfor %}
            {{ kept_stamp_columns(kept_stamped, canonical_columns) }}
            {% for value, columns in entered_values.items() %}
                {%- for column in columns %}
                    kept_records.{{ column }} as kept_{{ column }},
                {%- endfor %}
                kept_records.landed_{{ value }} as kept_landed_{{ value }},
                previous_golden.{{ value }} as golden_{{ value }}{% if not loop.last %},{% endif %}
            {%- endfor %}
        from live_records
        left join kept_records
            on live_records.record_id = kept_records.record_id
        left join written_since_kept
            on
                live_records.source_system = written_since_kept.source_system
                and live_records.source_table = written_since_kept.source_table
                and live_records.source_record_id = written_since_kept.source_record_id
        left join previous_xref
            on live_records.record_id = previous_xref.record_id
        left join previous_golden
            on previous_xref.customer_id = previous_golden.customer_id

    ),

    decided as (

        select
            *,
            {% for value in entered_values %}
                was_kept and (
                    {{ value }} is not distinct from kept_landed_{{ value }}
                    or is_changed_only_by_hub
                    or (is_written_by_hub and {{ value }} is not distinct from golden_{{ value }})
                    {%- for source_value, derived in derived_values.items() if value in derived %}
                        or is_{{ source_value }}_written_by_hub
                    {%- endfor %}
                ) as keeps_{{ value }}{% if not loop.last %},{% endif %}
            {%- endfor %}
        from compared

    ),
{%- else %}
    {% if kept_stamped -%}
        kept_records as not materialized (

            select * from {{ kept }}

        ),

    {% endif -%}
    -- the first build (or one without a previous golden record): every value is as landed
    decided as (

        select
            live_records.*,
            {{ kept_stamp_columns(kept_stamped, canonical_columns) }}
            {% for column in entered_columns -%}
                live_records.{{ column }} as kept_{{ column }},
            {% endfor -%}
            {% for value in entered_values -%}
                false as keeps_{{ value }}{% if not loop.last %},{% endif %}
            {% endfor %}
        from live_records
        {%- if kept_stamped %}
            left join kept_records on live_records.record_id = kept_records.record_id
        {%- endif %}

    ),
{%- endif %}

entered as (

    select
        {{ landed_columns | join(',\n        ') }},
        {% for value, columns in entered_values.items() %}
            {%- for column in columns %}
                case when keeps_{{ value }} then kept_{{ column }} else {{ column }} end as {{ column }},
            {%- endfor %}
        {% endfor %}
        -- the values as landed, for the next build's comparison
        {% for value in entered_values %}
            {{ value }} as landed_{{ value }},
        {%- endfor %}
        {% if kept_stamped -%}
            {% for column in canonical_columns -%}
                previous_{{ column }},
            {% endfor -%}
        {%- endif %}
        kept_entered_hash,
        kept_entered_at
    from decided

),

-- whether the row in the canonical shape is the kept one: it then keeps its hash and stamp, and only
-- the other rows are hashed (int_customer_records keys the records whose row changed); comparing the
-- columns costs far less than casting every row to text
compared_with_kept as (

    select
        *,
        {% if kept_stamped -%}
            kept_entered_hash is not null
            and row({{ canonical_columns | join(', ') }}) is not distinct from row(
                {%- for column in canonical_columns -%}
                    previous_{{ column }}{{ ', ' if not loop.last }}
                {%- endfor -%}
            ) as is_as_kept
        {%- else -%}
            false as is_as_kept
        {%- endif %}
    from entered

),

hashed as (

    select
        *,
        case
            when is_as_kept then kept_entered_hash
            else md5(cast(row({{ canonical_columns | join(', ') }}) as text))
        end as entered_hash
    from compared_with_kept

),

final as (

    select
        {{ (landed_columns + entered_columns) | join(',\n        ') }},
        {% for value in entered_values %}
            landed_{{ value }},
        {%- endfor %}
        entered_hash,
        -- when a build first wrote this row: kept while the row stays as kept
        case
            when is_as_kept then kept_entered_at
            else {{ build_timestamp() }}
        end as entered_at,
        current_timestamp as built_at,
        {{ fingerprint_value(fingerprint) }} as entered_by
    from hashed

)

select * from final
