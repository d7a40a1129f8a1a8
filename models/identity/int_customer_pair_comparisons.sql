{#-
    The comparison vector of every candidate pair: one graded level per field (see
    macros/matching/comparisons.sql and seeds/match_parameters.csv).

    Incremental: a pair is compared again only when its inputs changed. A record's matching columns are
    a function of its `entered_hash` (the canonical values they are keyed from) and of the keying SQL
    and seeds (`keyed_by`, the same on every row), both in int_customer_records; `compared_hash` is the
    md5 of those of both records and the pair's blocking rules, computed from these narrow columns. A
    build compares the pairs whose hash no built row has (new pairs, and pairs of a changed record),
    joins the wide rows for those only, and deletes the pairs that are no longer candidates.
    `compared_by` fingerprints the comparison SQL and everything upstream of it
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
    from paired

)
{%- endset -%}
{%- set fingerprint = model_fingerprint(paired_record_columns('l', 'r') ~ comparison_steps) -%}
{{ changed_rows_config(key_columns, 'int_customer_pairs') }}
{{ config(pre_hook="set local work_mem = '" ~ var('pairing_work_mem') ~ "'") }}

with

pairs as (

    select * from {{ ref('int_customer_pairs') }}

),

-- the columns the comparisons read. Not materialized: each join below reads the table in place
records as not materialized (

    select
        {{ matching_record_columns() | join(',\n        ') }},
        entered_hash,
        keyed_by
    from {{ ref('int_customer_records') }}

),

-- every pair's inputs, hashed from the records' narrow columns
pair_hashes as (

    select
        pairs.record_id_l,
        pairs.record_id_r,
        pairs.blocking_rules,
        md5(concat_ws(':', l.entered_hash, r.entered_hash, l.keyed_by, pairs.blocking_rules)) as compared_hash
    from pairs
    inner join records as l on pairs.record_id_l = l.record_id
    inner join records as r on pairs.record_id_r = r.record_id

),

{{ changed_rows_cte('pair_hashes', fingerprint, key_columns, 'compared_hash', 'compared_by') }}

-- the pairs to compare, with both records' columns
paired as (

    select
        changed.blocking_rules,
        {{ paired_record_columns('l', 'r') }},
        changed.compared_hash
    from changed
    inner join records as l on changed.record_id_l = l.record_id
    inner join records as r on changed.record_id_r = r.record_id

),

{{ comparison_steps }},

final as (

    select
        *,
        {{ fingerprint_value(fingerprint) }} as compared_by
    from compared

)

select * from final
