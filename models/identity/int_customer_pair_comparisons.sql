{#-
    The comparison vector of every candidate pair: one graded level per field (see
    macros/matching/comparisons.sql and seeds/match_parameters.csv).

    Incremental: a pair is compared again only when it was found again. Its comparison is a function of
    its blocking rules and of both records' matching columns, which are a function of each record's
    entered row and of the keying SQL and seeds. A record whose entered row changed is keyed and paired
    again (int_customer_pairs), which stamps each of its pairs with a new `paired_at`, as it does a pair
    found by other rules. So a build compares the pairs paired after the newest pair it compared, joins
    the wide rows for those only, and deletes the pairs that are no longer candidates, found by the
    records paired again (delete_comparisons_of_pairs_gone, macros/matching/pairing.sql). `compared_by`
    fingerprints the comparison SQL and everything upstream of it (the keying SQL too;
    macros/standardize/landed_changes.sql): when it differs, every pair is compared again.
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
        paired_at
    from paired

)
{%- endset -%}
{%- set fingerprint = model_fingerprint(paired_record_columns('l', 'r') ~ comparison_steps) -%}
{{ changed_rows_config(key_columns, 'int_customer_pairs', built_covers_live=true) }}
{#- the newest pair compared (built_through) is read from an index, not from a scan of every pair. The
    comparisons of the pairs gone are deleted first, found by their records (through the unique key's
    index and the one on record_id_r). int_customer_pair_scores finds the pairs of the names it
    counted again by the index on the shared name -#}
{{ config(
    pre_hook=[
        "set local work_mem = '" ~ var('pairing_work_mem') ~ "'",
        "{{ delete_comparisons_of_pairs_gone(ref('int_customer_pairs'), ref('int_customer_blocking_keys'),"
        ~ " ref('int_customer_oversized_blocks'), ref('int_customer_records')) }}"
    ],
    post_hook=[
        "{{ create_matching_index(this, ['paired_at']) }}",
        "{{ create_matching_index(this, ['record_id_r']) }}",
        "{{ create_partial_index(this, 'shared_name_tokens', ['shared_name_tokens'], [],"
        ~ " 'shared_name_tokens is not null') }}"
    ]
) }}

with

pairs as (

    select * from {{ ref('int_customer_pairs') }}

),

-- the columns the comparisons read. Not materialized: each join below reads the table in place
records as not materialized (

    select
        {{ matching_record_columns() | join(',\n        ') }}
    from {{ ref('int_customer_records') }}

),

-- the pairs found (again) since the newest pair compared; every pair when the table is built whole
{{ changed_rows_cte(
    'pairs', fingerprint, key_columns, 'paired_at', 'compared_by', since_column='paired_at',
    since_relation=ref('int_customer_pairs')
) }}

-- the pairs to compare, with both records' columns
paired as (

    select
        changed.blocking_rules,
        {{ paired_record_columns('l', 'r') }},
        changed.paired_at
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
