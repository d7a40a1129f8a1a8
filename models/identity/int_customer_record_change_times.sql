-- depends_on: {{ source('ops', 'sync_operations') }}
-- When each live source record last changed by someone other than the hub. A write of the hub moves the
-- record's own clock (lastmodifieddate, updated_at, write_date); counting it as a change would make
-- every record the hub touched look newest and flip `newest` decisions back and forth. The ledger says
-- when the hub wrote which record, so a landed update time that falls within a hub write is replaced by
-- the time of the last change before the hub's writes (or between two of them).
{%- set slack = var('sync_clock_slack_seconds', 2) %}

with

records_landed as (
    select * from {{ ref('int_customer_records') }}
),

operations as (
    {{ sync_ledger_operations() }}
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

hub_writes as (
    select
        target as target_system,
        object_type,
        record_id as source_record_id,
        attempted_at,
        finished_at,
        to_timestamp(landed_updated_ms / 1000.0) as landed_updated_at,
        lag(finished_at) over (
            partition by target, object_type, record_id order by finished_at
        ) as previous_write_at,
        row_number() over (
            partition by target, object_type, record_id order by finished_at desc
        ) as recency
    from operations
    where status = 'applied'
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
        records.record_id,
        records.target_system,
        records.object_type,
        records.source_record_id,
        records.source_updated_at,
        last_hub_writes.finished_at as last_hub_write_at,
        outside_changes_before_writes.changed_at as changed_before_hub_writes_at,
        {{ is_within_hub_write(
            'records.source_updated_at', 'last_hub_writes.attempted_at', 'last_hub_writes.finished_at'
        ) }} as is_last_change_by_hub
    from records
    left join last_hub_writes
        on
            records.target_system = last_hub_writes.target_system
            and records.object_type = last_hub_writes.object_type
            and records.source_record_id = last_hub_writes.source_record_id
    left join outside_changes_before_writes
        on
            records.target_system = outside_changes_before_writes.target_system
            and records.object_type = outside_changes_before_writes.object_type
            and records.source_record_id = outside_changes_before_writes.source_record_id
),

final as (
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
        end as last_changed_at
    from attributed
)

select * from final
