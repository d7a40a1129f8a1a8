-- Nothing is silently lost between identity resolution and the crosswalk: every live standardized
-- record maps to exactly one golden customer in customer_xref, and the crosswalk holds no other record.
-- Returns the records that break this (none when the build is whole).

with

records as (

    select record_id from {{ ref('int_customer_records') }}

),

xref as (

    select record_id from {{ ref('customer_xref') }}

),

xref_counts as (

    select
        record_id,
        count(*) as customer_count
    from xref
    group by record_id

),

compared as (

    select
        coalesce(records.record_id, xref_counts.record_id) as record_id,
        case
            when xref_counts.record_id is null then 'record has no golden customer'
            when records.record_id is null then 'crosswalk row for a record that is not live'
            when xref_counts.customer_count > 1 then 'record belongs to more than one customer'
        end as problem
    from records
    full outer join xref_counts on records.record_id = xref_counts.record_id

)

select
    record_id,
    problem
from compared
where problem is not null
