{#-
    Connected components by iterative minimum-label propagation with pointer jumping, as a chain of CTEs.

    Every node starts with its own id as label. Each pass (1) hooks: a node takes the smallest label among
    itself and its neighbours, then (2) jumps: a node takes the label of the node its label points at.
    Hooking alone moves the smallest label one edge per pass; jumping lets it skip along labels already
    spread, so a chain of n nodes needs about log2(n) passes instead of n. `passes` passes are always
    enough for components whose diameter is at most `passes`; longer chains usually converge too.

    Whether it converged is measured, not assumed: `<prefix>_labels.is_label_stable` is false for a node
    that one more hooking step would still change. The models test that it is true everywhere.

    Arguments: nodes_cte has `record_id`; edges_cte has `record_id_l`, `record_id_r` (both in nodes).
    Emits CTEs `<prefix>_directed`, `<prefix>_pass_<i>`, `<prefix>_labels` (record_id, cluster_key,
    is_label_stable), each followed by a comma.
-#}
{% macro label_propagation_ctes(prefix, nodes_cte, edges_cte, passes) -%}
{{ prefix }}_directed as (

    select
        record_id_l as record_id,
        record_id_r as neighbour_id
    from {{ edges_cte }}
    union all
    select
        record_id_r as record_id,
        record_id_l as neighbour_id
    from {{ edges_cte }}

),

{{ prefix }}_pass_0 as (

    select
        record_id,
        record_id as label
    from {{ nodes_cte }}

),

{% for i in range(1, passes + 1) %}
{{ prefix }}_hooked_{{ i }} as (

    select
        node.record_id,
        least(node.label, min(neighbour.label)) as label
    from {{ prefix }}_pass_{{ i - 1 }} as node
    left join {{ prefix }}_directed as directed
        on node.record_id = directed.record_id
    left join {{ prefix }}_pass_{{ i - 1 }} as neighbour
        on directed.neighbour_id = neighbour.record_id
    group by node.record_id, node.label

),

{{ prefix }}_pass_{{ i }} as (

    select
        hooked.record_id,
        least(hooked.label, pointed.label) as label
    from {{ prefix }}_hooked_{{ i }} as hooked
    inner join {{ prefix }}_hooked_{{ i }} as pointed
        on hooked.label = pointed.record_id

),

{% endfor %}
{{ prefix }}_labels as (

    select
        node.record_id,
        node.label as cluster_key,
        node.label <= coalesce(min(neighbour.label), node.label) as is_label_stable
    from {{ prefix }}_pass_{{ passes }} as node
    left join {{ prefix }}_directed as directed
        on node.record_id = directed.record_id
    left join {{ prefix }}_pass_{{ passes }} as neighbour
        on directed.neighbour_id = neighbour.record_id
    group by node.record_id, node.label

),
{%- endmacro %}
