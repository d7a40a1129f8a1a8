{#-
    Connected components of the match graph: records are nodes, int_customer_matches pairs are edges.
    Label propagation (macros/golden/label_propagation.sql) runs var('cluster_label_passes') passes;
    is_label_stable is tested to be true everywhere, so a chain too long for the passes fails the build
    instead of silently splitting a customer.

    Incremental: a component is a function of its records and the matches between them. `neighbours_hash`
    sums two 64-bit hashes of each of the record's matched records (with their count and its entity type):
    a build finds the records whose hash no built row has (new, typed anew, or matched, unmatched or
    deleted on either side), and labels again only the components they were in at the last build, with
    the records now joined to them. Those records and the matches between them are closed: a match of one
    of them either is old (both ends were in one of those components) or is new (both ends changed their
    hash). Every other component keeps its records and its matches, so its row is as a full build would
    label it. A record no longer in int_customer_records is deleted. `labelled_by` fingerprints this SQL
    and everything upstream of it (macros/standardize/landed_changes.sql): when it differs, every record
    is labelled again, as with --full-refresh.
-#}
{%- set passes = var('cluster_label_passes', 16) -%}
{#- the macros' SQL is not in the model's checksum: its rendered text is in the fingerprint -#}
{%- set propagation = label_propagation_ctes(
    'components', 'relabelled_nodes', 'relabelled_edges', passes, pair_shortcut=true
) -%}
{%- set fingerprint = model_fingerprint(propagation) -%}
{%- set extending = built_with_same_fingerprint(fingerprint, 'neighbours_hash', 'labelled_by') -%}
{{ changed_rows_config(['record_id'], 'int_customer_records') }}

with

records_entered as (

    select
        record_id,
        entity_type
    from {{ ref('int_customer_records') }}

),

matches as (

    select * from {{ ref('int_customer_matches') }}

),

-- a match with a record that is not in the records has no node: the propagation leaves it out. Read in
-- place (not materialized), where the planner sees the table's statistics
edges as not materialized (

    select
        record_id_l,
        record_id_r
    from matches

),

-- the same, kept apart for the signatures below: read twice as one copy, every match is grouped by one
-- hash in one process. Read in place, the planner split it among parallel workers that each grouped a
-- part, then sorted the parts to merge them (0.93 s against 0.36 s at 100k persons)
signature_edges as materialized (

    select
        record_id_l,
        record_id_r
    from matches

),

-- each match from both ends: the records each record is matched with
neighbours as (

    select
        record_id_l as record_id,
        record_id_r as neighbour_id
    from signature_edges
    union all
    select
        record_id_r as record_id,
        record_id_l as neighbour_id
    from signature_edges

),

-- an order-free signature of a record's matches: no sort of the neighbours needed
neighbour_signatures as (

    select
        record_id,
        count(*) as neighbour_count,
        sum(hashtextextended(neighbour_id, 0)) as neighbour_sum_0,
        sum(hashtextextended(neighbour_id, 1)) as neighbour_sum_1
    from neighbours
    group by record_id

),

records as (

    select
        records_entered.record_id,
        records_entered.entity_type,
        md5(concat_ws(
            ':',
            records_entered.entity_type,
            coalesce(neighbour_signatures.neighbour_count, 0),
            neighbour_signatures.neighbour_sum_0,
            neighbour_signatures.neighbour_sum_1
        )) as neighbours_hash
    from records_entered
    left join neighbour_signatures on records_entered.record_id = neighbour_signatures.record_id

),

{{ changed_rows_cte('records', fingerprint, ['record_id'], 'neighbours_hash', 'labelled_by') }}

-- the records whose component changed or may have: the changed records, and every record still live that
-- was in one of their components at the last build (every record when the table is built whole)
relabelled_nodes as {{ 'materialized' if extending else 'not materialized' }} (

    select
        record_id,
        entity_type,
        neighbours_hash
    from changed
    {%- if extending %}
    union
    select
        records.record_id,
        records.entity_type,
        records.neighbours_hash
    from {{ this }} as built
    inner join (
        select distinct previous.component_id
        from {{ this }} as previous
        inner join changed on previous.record_id = changed.record_id
    ) as changed_components on built.component_id = changed_components.component_id
    inner join records on built.record_id = records.record_id
    {%- endif %}

),

-- the matches of those records (both ends are among them)
relabelled_edges as (

    select
        edges.record_id_l,
        edges.record_id_r
    from edges
    {%- if extending %}
    inner join relabelled_nodes on edges.record_id_l = relabelled_nodes.record_id
    {%- endif %}

),

{{ propagation }}

final as (

    select
        relabelled_nodes.record_id,
        relabelled_nodes.entity_type,
        components_labels.cluster_key as component_id,
        count(*) over (partition by components_labels.cluster_key) as component_size,
        components_labels.is_label_stable,
        relabelled_nodes.neighbours_hash
    from relabelled_nodes
    inner join components_labels on relabelled_nodes.record_id = components_labels.record_id

),

with_fingerprint as (

    select
        *,
        {{ fingerprint_value(fingerprint) }} as labelled_by
    from final

)

select * from with_fingerprint
