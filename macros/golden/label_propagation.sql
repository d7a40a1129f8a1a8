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

    Arguments: nodes_cte has `record_id`; edges_cte has `record_id_l`, `record_id_r` (both in nodes).
    Emits CTEs `<prefix>_node_ids`, `<prefix>_directed`, (`<prefix>_degrees`), `<prefix>_pair_labels`,
    `<prefix>_passed`, `<prefix>_pass_<i>`, `<prefix>_final_labels`, `<prefix>_labels`
    (record_id, cluster_key, is_label_stable), each followed by a comma.
-#}
{% macro label_propagation_ctes(prefix, nodes_cte, edges_cte, passes, pair_shortcut=false) -%}
{{ prefix }}_node_ids as materialized (

    select
        record_id,
        row_number() over (order by record_id) as node_id
    from {{ nodes_cte }}

),

{{ prefix }}_directed as materialized (

    select
        node_l.node_id,
        node_r.node_id as neighbour_id
    from {{ edges_cte }} as edges
    inner join {{ prefix }}_node_ids as node_l on edges.record_id_l = node_l.record_id
    inner join {{ prefix }}_node_ids as node_r on edges.record_id_r = node_r.record_id
    union all
    select
        node_r.node_id,
        node_l.node_id as neighbour_id
    from {{ edges_cte }} as edges
    inner join {{ prefix }}_node_ids as node_l on edges.record_id_l = node_l.record_id
    inner join {{ prefix }}_node_ids as node_r on edges.record_id_r = node_r.record_id

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
{{ prefix }}_hooked_{{ i }} as materialized (

    select
        directed.node_id,
        least(min(node.label), min(neighbour.label)) as label
    from {{ prefix }}_passed as directed
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

{% endfor %}
{{ prefix }}_final_labels as (

    select * from {{ prefix }}_pass_{{ passes }}
    union all
    select * from {{ prefix }}_pair_labels

),

{{ prefix }}_neighbour_labels as (

    select
        directed.node_id,
        min(neighbour.label) as neighbour_label
    from {{ prefix }}_directed as directed
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
