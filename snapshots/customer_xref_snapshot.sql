{#-
    Written in SQL, not in _snapshots__golden.yml like dim_customer_snapshot, for one line: the
    depends_on below. The crosswalk is snapshotted once the whole master is built (dim_customer and its
    tests too), so that both snapshots record the same build. It also keeps the snapshot off the
    critical path: dbt starts ready nodes by their depth in the graph, and taken right after
    customer_xref this snapshot held one of the two threads while survivorship
    (int_customer_field_winners), which dim_customer waits for, was ready; after dim_customer it runs
    beside sync_field_comparisons.
-#}
{% snapshot customer_xref_snapshot %}

    {{ config(
        target_schema=var('schema_prefix', '') ~ 'snapshots',
        unique_key='record_id',
        strategy='check',
        check_cols=['customer_id', 'match_rule'],
        hard_deletes='invalidate',
    ) }}

    -- depends_on: {{ ref('dim_customer') }}

    with

    xref as (

        select * from {{ ref('customer_xref') }}

    )

    select * from xref

{% endsnapshot %}
