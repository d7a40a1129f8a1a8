{#-
    How many records of each entity type share each name (the names' term frequency), for the
    adjustment of an exact name agreement (macro name_frequency_weight). A statistic over all records,
    kept apart from int_customer_records so that a record's own row never depends on the others.

    Incremental: every build counts the names again (one pass over the records), but writes only the
    names whose count moved, stamped with `counted_at`. int_customer_pair_scores scores again the pairs
    that share a name counted since its last build, and no other pair for its name. A name no record
    has any more is deleted (changed_rows_config's post-hook): no pair shares it. `counted_by` fingerprints this SQL and
    everything upstream of it: when it differs, every name is written again, as with --full-refresh.
-#}
{%- set key_columns = ['entity_type', 'name_tokens_sorted'] -%}
{%- set counting_steps -%}
-- counted per name
name_counts as (

    select
        entity_type,
        name_tokens_sorted,
        count(*) as records_with_name
    from records
    where name_tokens_sorted is not null
    group by entity_type, name_tokens_sorted

)
{%- endset -%}
{%- set fingerprint = model_fingerprint(counting_steps) -%}
{%- set extending = built_with_same_fingerprint(fingerprint, 'records_with_name', 'counted_by') -%}
{#- a name no record has any more is deleted by the shared post-hook (delete_rows_no_longer_in) -#}
{{ changed_rows_config(key_columns, 'int_customer_records') }}
{#- int_customer_pair_scores reads the names counted since its last build by the index on counted_at -#}
{{ config(post_hook="{{ create_matching_index(this, ['counted_at']) }}") }}

with

records as (

    select * from {{ ref('int_customer_records') }}

),

{{ counting_steps }},

-- the names as counted before (none when the table is built whole)
built as (

    select
        entity_type,
        name_tokens_sorted,
        records_with_name
    from {{ this if is_incremental() else 'name_counts' }}
    where {{ 'true' if is_incremental() else 'false' }}

),

-- the names whose count moved, and new names. A name no record has any more is deleted by the post-hook
recounted as (

    select name_counts.*
    from name_counts
    left join built
        on
            name_counts.entity_type = built.entity_type
            and name_counts.name_tokens_sorted = built.name_tokens_sorted
    -- (every name when the table is built whole or by another fingerprint)
    where
        {{ 'false' if extending else 'true' }}
        or name_counts.records_with_name is distinct from built.records_with_name

),

final as (

    select
        entity_type,
        name_tokens_sorted,
        records_with_name,
        {{ fingerprint_value(fingerprint) }} as counted_by,
        {{ build_timestamp() }} as counted_at
    from recounted

)

select * from final
