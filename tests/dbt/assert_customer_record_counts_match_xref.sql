-- The golden dimension and the crosswalk agree: every customer in customer_xref is in dim_customer and
-- its source_record_count equals the number of crosswalk rows pointing at it, and no customer in
-- dim_customer is without records. Returns the customers where they disagree.

with

customers as (

    select
        customer_id,
        source_record_count
    from {{ ref('dim_customer') }}

),

xref_counts as (

    select
        customer_id,
        count(*) as xref_record_count
    from {{ ref('customer_xref') }}
    group by customer_id

),

compared as (

    select
        coalesce(customers.customer_id, xref_counts.customer_id) as customer_id,
        customers.source_record_count,
        xref_counts.xref_record_count
    from customers
    full outer join xref_counts on customers.customer_id = xref_counts.customer_id

)

select
    customer_id,
    source_record_count,
    xref_record_count
from compared
where source_record_count is distinct from xref_record_count
