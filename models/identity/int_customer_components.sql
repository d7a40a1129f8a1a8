{#-
    Connected components of the match graph: records are nodes, int_customer_matches pairs are edges.
    Label propagation (macros/golden/label_propagation.sql) runs var('cluster_label_passes') passes;
    is_label_stable is tested to be true everywhere, so a chain too long for the passes fails the build
    instead of silently splitting a customer.
-#}
{%- set passes = var('cluster_label_passes', 16) -%}

with

records as (

    select
        record_id,
        entity_type
    from {{ ref('int_customer_records') }}

),

matches as (

    select * from {{ ref('int_customer_matches') }}

),

nodes as (

    select record_id from records

),

-- a match with a record that is not in the records has no node: the propagation leaves it out
edges as (

    select
        record_id_l,
        record_id_r
    from matches

),

{{ label_propagation_ctes('components', 'nodes', 'edges', passes, pair_shortcut=true) }}

final as (

    select
        records.record_id,
        records.entity_type,
        components_labels.cluster_key as component_id,
        count(*) over (partition by components_labels.cluster_key) as component_size,
        components_labels.is_label_stable
    from records
    inner join components_labels on records.record_id = components_labels.record_id

)

select * from final
