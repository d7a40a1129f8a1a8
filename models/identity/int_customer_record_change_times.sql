-- depends_on: {{ source('ops', 'sync_operations') }}
{#-
    When each live source record last changed by someone other than the hub. A write of the hub moves the
    record's own clock (lastmodifieddate, updated_at, write_date); counting it as a change would make
    every record the hub touched look newest and flip `newest` decisions back and forth. The ledger says
    when the hub wrote which record, so a landed update time that falls within a hub write is replaced by
    the time of the last change before the hub's writes (or between two of them).

    Incremental: a record's row is a function of its landed update time and the hub's applied writes to
    it. A build computes again the records whose update time no built row has (new or changed), and the
    records the hub wrote since the last build: the ledger's applied operations finished after the newest
    `ledger_read_through` of the built rows (each build stamps its rows with the ledger's newest finish
    time it read; builds and syncs take turns, as a cycle runs them). Only those records' operations are
    read in order. Records no longer in int_customer_records are deleted. `timed_at` (indexed) is the
    start of the build that last changed the record's `last_changed_at`, for the readers that take the
    records changed after their last build (int_customer_field_winners, sync_field_comparisons). `timed_by` fingerprints this
    SQL and everything upstream of it (macros/standardize/landed_changes.sql): when it differs, every
    record is computed again, as with --full-refresh.
-#}
{%- set slack = var('sync_clock_slack_seconds', 2) -%}
{%- set fingerprint = model_fingerprint(is_within_hub_write('a', 'b', 'c') ~ sync_ledger_operations()) -%}
{%- set extending = built_with_same_fingerprint(fingerprint, 'ledger_read_through', 'timed_by') -%}
{{ changed_rows_config(['record_id'], 'int_customer_records') }}
{{ config(post_hook=["{{ create_matching_index(this, ['timed_at']) }}"]) }}

with

records_landed as (
    select * from {{ ref('int_customer_records') }}
),

operations as (
    {{ sync_ledger_operations() }}
),

applied_operations as not materialized (
    select
        target as target_system,
        object_type,
        record_id as source_record_id,
        attempted_at,
        finished_at,
        landed_updated_ms
    from operations
    where status = 'applied'
),

records as (
    select
        record_id,
        source_system as target_system,
        source_table as object_type,
        source_record_id,
        source_updated_at
    from records_landed
),

{% if extending -%}
    -- the records the hub wrote since the last build
    written_since_built as (
        select distinct
            target_system,
            object_type,
            source_record_id
        from applied_operations
        where finished_at > {{ built_through('ledger_read_through') }}
    ),

    -- new records, records whose update time changed, and records the hub wrote since the last build
    changed as materialized (
        select records.*
        from records
        left join {{ this }} as built
            on
                records.record_id = built.record_id
                and coalesce(records.source_updated_at, '-infinity') = coalesce(built.source_updated_at, '-infinity')
        left join written_since_built
            on
                records.target_system = written_since_built.target_system
                and records.object_type = written_since_built.object_type
                and records.source_record_id = written_since_built.source_record_id
        where built.record_id is null or written_since_built.source_record_id is not null
    ),

    -- their operations (a hash join with the few changed records, not a read of the ledger in order)
    changed_operations as (
        select applied_operations.*
        from applied_operations
        inner join changed
            on
                applied_operations.target_system = changed.target_system
                and applied_operations.object_type = changed.object_type
                and applied_operations.source_record_id = changed.source_record_id
    ),
{%- else -%}
    changed as (
        select * from records
    ),

    changed_operations as (
        select * from applied_operations
    ),
{%- endif %}

hub_writes as (
    select
        target_system,
        object_type,
        source_record_id,
        attempted_at,
        finished_at,
        to_timestamp(landed_updated_ms / 1000.0) as landed_updated_at,
        lag(finished_at) over (
            partition by target_system, object_type, source_record_id order by finished_at
        ) as previous_write_at,
        row_number() over (
            partition by target_system, object_type, source_record_id order by finished_at desc
        ) as recency
    from changed_operations
),

-- what the record looked like before the hub first wrote it, and any change made between two hub writes
outside_changes_before_writes as (
    select
        target_system,
        object_type,
        source_record_id,
        max(landed_updated_at) as changed_at
    from hub_writes
    where
        previous_write_at is null
        or landed_updated_at > previous_write_at + interval '{{ slack }} seconds'
    group by target_system, object_type, source_record_id
),

last_hub_writes as (
    select * from hub_writes
    where recency = 1
),

attributed as (
    select
        changed.record_id,
        changed.target_system,
        changed.object_type,
        changed.source_record_id,
        changed.source_updated_at,
        last_hub_writes.finished_at as last_hub_write_at,
        outside_changes_before_writes.changed_at as changed_before_hub_writes_at,
        {{ is_within_hub_write(
            'changed.source_updated_at', 'last_hub_writes.attempted_at', 'last_hub_writes.finished_at'
        ) }} as is_last_change_by_hub
    from changed
    left join last_hub_writes
        on
            changed.target_system = last_hub_writes.target_system
            and changed.object_type = last_hub_writes.object_type
            and changed.source_record_id = last_hub_writes.source_record_id
    left join outside_changes_before_writes
        on
            changed.target_system = outside_changes_before_writes.target_system
            and changed.object_type = outside_changes_before_writes.object_type
            and changed.source_record_id = outside_changes_before_writes.source_record_id
),

timed as (
    select
        record_id,
        target_system,
        object_type,
        source_record_id,
        source_updated_at,
        last_hub_write_at,
        is_last_change_by_hub,
        case
            when is_last_change_by_hub then changed_before_hub_writes_at
            else source_updated_at
        end as last_changed_at,
        -- the ledger as this build read it: the next build takes the writes finished after it
        (select max(applied_operations.finished_at) from applied_operations) as ledger_read_through,
        {{ fingerprint_value(fingerprint) }} as timed_by
    from attributed
),

-- when a build last changed the record's last change by people (its readers read only that): a row
-- written again with the same one keeps its stamp (the hub's writes are timed again every cycle, and
-- would otherwise make every record it wrote look changed to readers that take the rows stamped after
-- their last build)
{% if extending -%}
    final as (
        select
            timed.*,
            case
                when
                    built.record_id is not null
                    and built.last_changed_at is not distinct from timed.last_changed_at
                    then built.timed_at
                else {{ build_timestamp() }}
            end as timed_at
        from timed
        left join {{ this }} as built on timed.record_id = built.record_id
    )
{%- else -%}
    final as (
        select
            timed.*,
            {{ build_timestamp() }} as timed_at
        from timed
    )
{%- endif %}

select * from final
