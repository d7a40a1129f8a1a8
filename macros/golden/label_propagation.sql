{#-
    Connected components by iterative minimum-label propagation with pointer jumping, as a chain of CTEs.

    Every node starts with its own id as label. Each pass (1) hooks: a node takes the smallest label among
    itself and its neighbours, then (2) jumps: a node takes the label of the node its label points at.
    Hooking alone moves the smallest label one edge per pass; jumping lets it skip along labels already
    spread, so a chain of n nodes needs about log2(n) passes instead of n. `passes` passes are always
    enough for components whose diameter is at most `passes`; longer chains usually converge too.

    Whether it converged is measured, not assumed: `<prefix>_labels.is_label_stable` is false for a node
    that one more hooking step would still change. The models test that it is true everywhere.

    The passes work on dense integer node numbers (`<prefix>_node_ids`, numbered in record_id order so the
    smallest number is the smallest record_id): joins and sorts on an int8 are several times cheaper
    than on text ids. Only records that have a match take part; a record without one is its own label. Two
    records matched only with each other (the most common component) are labelled at once and skip the
    passes when `pair_shortcut` is true (worth it on the whole match graph, not on a few large
    components).

    Only the first pass runs over all the nodes. A component whose edges all join nodes of one label after
    it has settled (that label is its smallest node, and later passes would keep it), so the later passes
    run only on the components that have not: those are found as the nodes carrying a label that some
    edge still disagrees on (each label of an unsettled component is on at least one such edge). The
    labels are the same as after `passes` passes over every node; they take a fraction of the time, as
    most components settle in the first pass.

    Arguments: nodes_cte has `record_id`; edges_cte has `record_id_l`, `record_id_r` (an edge with an end
    not in nodes is left out). Emits CTEs `<prefix>_node_ids`, `<prefix>_edge_ids`, `<prefix>_directed`,
    (`<prefix>_degrees`), `<prefix>_pair_labels`, `<prefix>_passed`, `<prefix>_hooked_<i>`,
    `<prefix>_pass_<i>`, (`<prefix>_unsettled_labels`, `<prefix>_settled`, `<prefix>_unsettled_edges`),
    `<prefix>_final_labels`, `<prefix>_neighbour_labels`, `<prefix>_labels`
    (record_id, cluster_key, is_label_stable), each followed by a comma.
-#}
{% macro label_propagation_ctes(prefix, nodes_cte, edges_cte, passes, pair_shortcut=false) -%}
{%- set settle = [passes, 1] | min -%}
{{ prefix }}_node_ids as materialized (

    select
        record_id,
        row_number() over (order by record_id) as node_id
    from {{ nodes_cte }}

),

{{ prefix }}_edge_ids as materialized (

    select
        node_l.node_id as node_id_l,
        node_r.node_id as node_id_r
    from {{ edges_cte }} as edges
    inner join {{ prefix }}_node_ids as node_l on edges.record_id_l = node_l.record_id
    inner join {{ prefix }}_node_ids as node_r on edges.record_id_r = node_r.record_id

),

{{ prefix }}_directed as materialized (

    select
        node_id_l as node_id,
        node_id_r as neighbour_id
    from {{ prefix }}_edge_ids
    union all
    select
        node_id_r as node_id,
        node_id_l as neighbour_id
    from {{ prefix }}_edge_ids

),

{% if pair_shortcut -%}
-- most components are two records matched with each other and nothing else: such a pair is its own
-- component, labelled by its smaller node, with no pass needed; only the rest goes through the passes
{{ prefix }}_degrees as materialized (

    -- the edges are listed both ways, so the rows with a given neighbour are that neighbour's edges:
    -- both degrees come from windows, with no join
    select
        node_id,
        neighbour_id,
        count(*) over (partition by node_id) as node_degree,
        count(*) over (partition by neighbour_id) as neighbour_degree
    from {{ prefix }}_directed

),

{{ prefix }}_pair_labels as materialized (

    select
        node_id,
        least(node_id, neighbour_id) as label
    from {{ prefix }}_degrees
    where node_degree = 1 and neighbour_degree = 1

),

{{ prefix }}_passed as materialized (

    select
        node_id,
        neighbour_id
    from {{ prefix }}_degrees
    where node_degree > 1 or neighbour_degree > 1

),

{% else -%}
{{ prefix }}_pair_labels as (

    select
        cast(null as bigint) as node_id,
        cast(null as bigint) as label
    where false

),

{{ prefix }}_passed as (

    select * from {{ prefix }}_directed

),

{% endif -%}
{{ prefix }}_pass_0 as materialized (

    select distinct
        node_id,
        node_id as label
    from {{ prefix }}_passed

),

{% for i in range(1, passes + 1) %}
{%- set pass_edges = prefix ~ ('_passed' if i <= settle else '_unsettled_edges') %}
{{ prefix }}_hooked_{{ i }} as materialized (

    select
        directed.node_id,
        least(min(node.label), min(neighbour.label)) as label
    from {{ pass_edges }} as directed
    inner join {{ prefix }}_pass_{{ i - 1 }} as node on directed.node_id = node.node_id
    inner join {{ prefix }}_pass_{{ i - 1 }} as neighbour on directed.neighbour_id = neighbour.node_id
    group by directed.node_id

),

{{ prefix }}_pass_{{ i }} as materialized (

    select
        hooked.node_id,
        least(hooked.label, pointed.label) as label
    from {{ prefix }}_hooked_{{ i }} as hooked
    inner join {{ prefix }}_hooked_{{ i }} as pointed on hooked.label = pointed.node_id

),
{% if i == settle and passes > settle %}
-- after the first pass most components have settled: every edge joins two nodes of the same label.
-- A component that has not has an edge between two labels in each of its labels' nodes, so the nodes
-- carrying one of those labels are exactly the unsettled components; only they take the later passes
-- (the settled ones would keep their labels through them)
{{ prefix }}_unsettled_labels as materialized (

    select distinct node.label
    from {{ prefix }}_passed as directed
    inner join {{ prefix }}_pass_{{ settle }} as node on directed.node_id = node.node_id
    inner join {{ prefix }}_pass_{{ settle }} as neighbour on directed.neighbour_id = neighbour.node_id
    where node.label <> neighbour.label

),

{{ prefix }}_settled as materialized (

    select settled_pass.*
    from {{ prefix }}_pass_{{ settle }} as settled_pass
    left join {{ prefix }}_unsettled_labels as unsettled_labels on settled_pass.label = unsettled_labels.label
    where unsettled_labels.label is null

),

{{ prefix }}_unsettled_edges as materialized (

    select
        directed.node_id,
        directed.neighbour_id
    from {{ prefix }}_passed as directed
    inner join {{ prefix }}_pass_{{ settle }} as node on directed.node_id = node.node_id
    inner join {{ prefix }}_unsettled_labels as unsettled_labels on node.label = unsettled_labels.label

),
{% endif %}
{% endfor %}
{{ prefix }}_final_labels as (

    select * from {{ prefix }}_pass_{{ passes }}
    {%- if passes > settle %}
    union all
    select * from {{ prefix }}_settled
    {%- endif %}
    union all
    select * from {{ prefix }}_pair_labels

),

-- a settled component (and a pair) has one label on all its nodes, which is stable: only the nodes of
-- the passes' edges are checked
{{ prefix }}_neighbour_labels as (

    select
        directed.node_id,
        min(neighbour.label) as neighbour_label
    from {{ prefix }}_{{ 'unsettled_edges' if passes > settle else 'directed' }} as directed
    inner join {{ prefix }}_final_labels as neighbour on directed.neighbour_id = neighbour.node_id
    group by directed.node_id

),

{{ prefix }}_labels as (

    select
        node_ids.record_id,
        coalesce(label_ids.record_id, node_ids.record_id) as cluster_key,
        coalesce(final_pass.label <= neighbour_labels.neighbour_label, true) as is_label_stable
    from {{ prefix }}_node_ids as node_ids
    left join {{ prefix }}_final_labels as final_pass on node_ids.node_id = final_pass.node_id
    left join {{ prefix }}_node_ids as label_ids on final_pass.label = label_ids.node_id
    left join {{ prefix }}_neighbour_labels as neighbour_labels on node_ids.node_id = neighbour_labels.node_id

),
{%- endmacro %}
