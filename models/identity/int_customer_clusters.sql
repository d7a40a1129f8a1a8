{#-
    Customers: the match graph's components, with components that hold a conflict
    (int_customer_conflicts) split apart so that no chain of matches joins two records that must differ.

    Anti-chaining rule, per component holding a conflict:
      1. for var('conflict_split_rounds') rounds, recompute the component's clusters and drop, in each
         cluster that still joins a conflicting pair, its weakest match (lowest match_weight; steward
         must-match pairs last; ties by record ids);
      2. if a conflicting pair is still joined after that, isolate both records of the pair (drop every
         match touching them).
    Step 2 guarantees the outcome: a record without matches cannot share a cluster with anyone.
    cluster_key is the smallest record_id of the cluster.
-#}
{#- hash joins only: the CTE chain's row estimates fall to one or two rows after a few joins, and the
    planner then joins the passes' CTEs by nested loops. At 1M persons the split graph has 47,924
    records and 153,118 directed edges in 4,450 components with a conflict, and round 1's unsettled
    edges (a nested loop over 16,119 labels, 47,924 records and those edges) did not finish in 60 s;
    with hash joins the same CTE takes about a second. -#}
{#- statistics on what its readers join on (macros/analyze_after_build.sql): golden ids read each record's
    cluster -#}
{{ config(
    pre_hook=["set local enable_nestloop = off"],
    meta={'analyze_columns': ['record_id', 'cluster_key', 'entity_type']}
) }}
{%- set passes = var('cluster_label_passes', 16) -%}
{%- set rounds = var('conflict_split_rounds', 4) -%}

with

-- components and matches are read in place at each of their three uses (not materialized): a
-- materialized CTE first copied every row with every column (the model took 0.89 s at 100k persons
-- instead of 0.56 s, with the same rows)
components as not materialized (

    select * from {{ ref('int_customer_components') }}

),

conflicts as (

    select * from {{ ref('int_customer_conflicts') }}

),

matches as not materialized (

    select * from {{ ref('int_customer_matches') }}

),

conflicted_components as (

    select distinct component_id from conflicts

),

split_nodes as (

    select components.record_id
    from components
    inner join conflicted_components on components.component_id = conflicted_components.component_id

),

split_edges_1 as (

    select
        matches.record_id_l,
        matches.record_id_r,
        matches.match_weight,
        matches.match_rule
    from matches
    inner join split_nodes as node_l on matches.record_id_l = node_l.record_id
    inner join split_nodes as node_r on matches.record_id_r = node_r.record_id

),

{% for round in range(1, rounds + 1) %}
    {{ label_propagation_ctes('round_' ~ round, 'split_nodes', 'split_edges_' ~ round, passes) }}

    -- one row: the clusters that still join a conflicting pair, as an array. A join with them would be
    -- sized by the CTE chain's far too high row estimates (a hash join of hundreds of batches, spilled
    -- to temporary files, for a few hundred rows)
    joined_conflicts_{{ round }} as (

        select coalesce(array_agg(distinct label_l.cluster_key), array[]::text[]) as cluster_keys
        from conflicts
        inner join round_{{ round }}_labels as label_l on conflicts.record_id_l = label_l.record_id
        inner join round_{{ round }}_labels as label_r on conflicts.record_id_r = label_r.record_id
        where label_l.cluster_key = label_r.cluster_key

    ),

    -- materialized: each edge's flag is computed before the window's sort. Computed above the sort, it
    -- made every sorted row carry the whole array of joined clusters: at 1M persons 76,559 edges with
    -- 4,450 keys each, more than 12 GB of temporary files in the first round
    flagged_edges_{{ round }} as materialized (

        -- one scan, no anti join: the CTE chain's row estimates are far too high for a hash anti join
        -- (it would size millions of batches for a few hundred rows)
        select
            split_edges_{{ round }}.*,
            labels.cluster_key,
            labels.cluster_key = any(joined_conflicts_{{ round }}.cluster_keys) as is_in_joined_cluster
        from split_edges_{{ round }}
        inner join round_{{ round }}_labels as labels on split_edges_{{ round }}.record_id_l = labels.record_id
        cross join joined_conflicts_{{ round }}

    ),

    ranked_edges_{{ round }} as (

        select
            record_id_l,
            record_id_r,
            match_weight,
            match_rule,
            is_in_joined_cluster,
            row_number() over (
                partition by cluster_key
                order by
                    case when match_rule = 'steward_must_match' then 1 else 0 end,
                    match_weight,
                    record_id_l,
                    record_id_r
            ) as weakness_rank
        from flagged_edges_{{ round }}

    ),

    split_edges_{{ round + 1 }} as (

        -- each cluster that still joins a conflicting pair loses its weakest match
        select
            record_id_l,
            record_id_r,
            match_weight,
            match_rule
        from ranked_edges_{{ round }}
        where not (is_in_joined_cluster and weakness_rank = 1)

    ),

{% endfor %}
{{ label_propagation_ctes('after_rounds', 'split_nodes', 'split_edges_' ~ (rounds + 1), passes) }}

isolated_records as (

    -- step 2: conflicting pairs the rounds did not separate lose all their matches
    select conflicts.record_id_l as record_id
    from conflicts
    inner join after_rounds_labels as label_l on conflicts.record_id_l = label_l.record_id
    inner join after_rounds_labels as label_r on conflicts.record_id_r = label_r.record_id
    where label_l.cluster_key = label_r.cluster_key
    union
    select conflicts.record_id_r as record_id
    from conflicts
    inner join after_rounds_labels as label_l on conflicts.record_id_l = label_l.record_id
    inner join after_rounds_labels as label_r on conflicts.record_id_r = label_r.record_id
    where label_l.cluster_key = label_r.cluster_key

),

isolated_record_ids as (

    -- one row: an anti join here would be sized by the CTE chain's far too high row estimates
    select coalesce(array_agg(record_id), array[]::text[]) as record_ids
    from isolated_records

),

final_split_edges as (

    select split_edges_{{ rounds + 1 }}.*
    from split_edges_{{ rounds + 1 }}
    cross join isolated_record_ids
    where
        split_edges_{{ rounds + 1 }}.record_id_l <> all(isolated_record_ids.record_ids)
        and split_edges_{{ rounds + 1 }}.record_id_r <> all(isolated_record_ids.record_ids)

),

{{ label_propagation_ctes('split', 'split_nodes', 'final_split_edges', passes) }}

-- a component that holds no conflict is one cluster, with every match in it; only the few records of
-- the conflicted components are split. The two are kept apart to the end: the split's long CTE chain
-- estimates its rows far too high (billions), and a join of it with every record made the planner sort
-- them all for merge joins
unsplit as materialized (

    select
        components.record_id,
        components.entity_type,
        components.component_id,
        components.component_size,
        components.is_label_stable
    from components
    left join conflicted_components on components.component_id = conflicted_components.component_id
    where conflicted_components.component_id is null

),

-- both ends of a match are in one component (the matches' relationships tests: both are live records)
unsplit_kept_edges as (

    select
        matches.record_id_l,
        matches.record_id_r,
        matches.match_weight,
        matches.match_rule
    from matches
    left join split_nodes on matches.record_id_l = split_nodes.record_id
    where split_nodes.record_id is null

),

split_clustered as materialized (

    select
        components.record_id,
        components.entity_type,
        components.component_id,
        coalesce(split_labels.cluster_key, components.component_id) as cluster_key,
        split_labels.record_id is not null as is_conflict_split,
        components.is_label_stable and coalesce(split_labels.is_label_stable, true) as is_label_stable
    from split_nodes
    inner join components on split_nodes.record_id = components.record_id
    left join split_labels on split_nodes.record_id = split_labels.record_id

),

split_sizes as (

    select
        cluster_key,
        count(*) as cluster_size
    from split_clustered
    group by cluster_key

),

-- the split matches that hold a cluster together: both ends in it
split_kept_edges as (

    select
        matches.record_id_l,
        matches.record_id_r,
        matches.match_weight,
        matches.match_rule
    from matches
    inner join split_clustered as clustered_l on matches.record_id_l = clustered_l.record_id
    inner join split_clustered as clustered_r on matches.record_id_r = clustered_r.record_id
    where clustered_l.cluster_key = clustered_r.cluster_key

),

{% for part in ['unsplit', 'split'] %}
    -- each record's strongest kept match, and whether a steward joined it
    {{ part }}_evidence as (

        select
            record_id,
            max(match_weight) as match_weight,
            bool_or(match_rule = 'steward_must_match') as has_steward_match
        from (
            select
                record_id_l as record_id,
                match_weight,
                match_rule
            from {{ part }}_kept_edges
            union all
            select
                record_id_r as record_id,
                match_weight,
                match_rule
            from {{ part }}_kept_edges
        ) as record_edges
        group by record_id

    ),

{% endfor %}
clustered as (

    select
        unsplit.record_id,
        unsplit.entity_type,
        unsplit.component_id as cluster_key,
        unsplit.component_size as cluster_size,
        unsplit.component_id,
        false as is_conflict_split,
        unsplit_evidence.match_weight,
        unsplit_evidence.has_steward_match,
        unsplit_evidence.record_id is not null as has_kept_match,
        unsplit.is_label_stable
    from unsplit
    left join unsplit_evidence on unsplit.record_id = unsplit_evidence.record_id
    union all
    select
        split_clustered.record_id,
        split_clustered.entity_type,
        split_clustered.cluster_key,
        split_sizes.cluster_size,
        split_clustered.component_id,
        split_clustered.is_conflict_split,
        split_evidence.match_weight,
        split_evidence.has_steward_match,
        split_evidence.record_id is not null as has_kept_match,
        split_clustered.is_label_stable
    from split_clustered
    inner join split_sizes on split_clustered.cluster_key = split_sizes.cluster_key
    left join split_evidence on split_clustered.record_id = split_evidence.record_id

),

final as (

    select
        record_id,
        entity_type,
        cluster_key,
        cluster_size,
        component_id,
        is_conflict_split,
        match_weight,
        case
            when not has_kept_match then 'singleton'
            when has_steward_match then 'steward_must_match'
            else 'probabilistic'
        end as match_rule,
        is_label_stable
    from clustered

)

select * from final
