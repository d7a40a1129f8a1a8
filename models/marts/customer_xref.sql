{#-
    Every live source record and the golden customer it belongs to, with how it got there:
    singleton (matched nothing), probabilistic (matched by the model), steward_must_match (held in the
    customer by a steward's decision). match_weight is the strongest match keeping the record in its
    customer (null for singletons).
-#}
{#- statistics on what the build's readers join on (macros/analyze_after_build.sql): the field comparisons
    read each record's customer. Autovacuum's analyse adds every column's soon after -#}
{{ config(meta={'analyze_columns': ['record_id', 'customer_id', 'match_rule']}) }}

with

records as (

    select * from {{ ref('int_customer_records') }}

),

clusters as (

    select * from {{ ref('int_customer_clusters') }}

),

golden_ids as (

    select * from {{ ref('int_customer_golden_ids') }}

),

final as (

    select
        records.record_id,
        records.source_system,
        records.source_table,
        records.source_record_id,
        golden_ids.customer_id,
        records.entity_type,
        clusters.match_weight,
        clusters.match_rule,
        clusters.cluster_size as customer_record_count,
        clusters.is_conflict_split,
        records.golden_id_in_source
    from records
    inner join clusters on records.record_id = clusters.record_id
    inner join golden_ids on records.record_id = golden_ids.record_id
    where golden_ids.is_active

)

select * from final
