{#-
    The comparison vector of every candidate pair: one graded level per field (see
    macros/matching/comparisons.sql and seeds/match_parameters.csv).

    Incremental: a pair is compared again only when its inputs changed. `compared_hash` is the md5 of
    both records' matching columns and the pair's blocking rules; a build compares the pairs whose hash
    no built row has (new pairs, and pairs of a changed record), and deletes the pairs that are no longer
    candidates. `compared_by` fingerprints the comparison SQL and everything upstream of it
    (macros/standardize/landed_changes.sql): when it differs, every pair is compared again.
-#}
{%- set key_columns = ['record_id_l', 'record_id_r'] -%}
{%- set comparison_steps -%}
compared as (

    select
        record_id_l,
        record_id_r,
        entity_type_l as entity_type,
        blocking_rules,
        is_name_swapped,
        case when name_tokens_sorted_l = name_tokens_sorted_r then name_tokens_sorted_l end as shared_name_tokens,
        {{ comparison_levels() }},
        compared_hash
    from changed

)
{%- endset -%}
{%- set fingerprint = model_fingerprint(paired_record_columns('l', 'r') ~ comparison_steps) -%}
{{ changed_rows_config(key_columns, 'int_customer_pairs') }}
{{ config(pre_hook="set local work_mem = '" ~ var('pairing_work_mem') ~ "'") }}

with

pairs as (

    select * from {{ ref('int_customer_pairs') }}

),

-- the columns the comparisons read, and their hash
records as (

    select
        {{ matching_record_columns() | join(',\n        ') }},
        md5(cast(row({{ matching_record_columns() | join(', ') }}) as text)) as matching_hash
    from {{ ref('int_customer_records') }}

),

paired as (

    select
        pairs.blocking_rules,
        {{ paired_record_columns('l', 'r') }},
        md5(l.matching_hash || r.matching_hash || coalesce(pairs.blocking_rules, '')) as compared_hash
    from pairs
    inner join records as l on pairs.record_id_l = l.record_id
    inner join records as r on pairs.record_id_r = r.record_id

),

{{ changed_rows_cte('paired', fingerprint, key_columns, 'compared_hash', 'compared_by') }}

{{ comparison_steps }},

final as (

    select
        *,
        {{ fingerprint_value(fingerprint) }} as compared_by
    from compared

)

select * from final
