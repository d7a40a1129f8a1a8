{#-
    How common each name is among the records of its entity type (the names' term frequency), for the
    adjustment of an exact name agreement (macro name_frequency_weight). A statistic over all records,
    kept apart from int_customer_records so that a record's own row never depends on the others.
-#}

with

records as (

    select * from {{ ref('int_customer_records') }}

),

-- counted per name, then per entity type from those counts (no sort of the records)
name_counts as (

    select
        entity_type,
        name_tokens_sorted,
        count(*) as records_with_name
    from records
    where name_tokens_sorted is not null
    group by entity_type, name_tokens_sorted

),

-- the records named, and the average over them of how many records share their name
entity_name_counts as (

    select
        entity_type,
        sum(records_with_name)::bigint as records_named,
        sum(records_with_name * records_with_name) / sum(records_with_name) as records_with_name_typical
    from name_counts
    group by entity_type

),

final as (

    select
        name_counts.entity_type,
        name_counts.name_tokens_sorted,
        name_counts.records_with_name,
        name_counts.records_with_name::double precision / entity_name_counts.records_named as name_frequency,
        entity_name_counts.records_with_name_typical / entity_name_counts.records_named
            as name_frequency_typical
    from name_counts
    inner join entity_name_counts on name_counts.entity_type = entity_name_counts.entity_type

)

select * from final
