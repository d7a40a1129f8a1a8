{#-
    Candidate pairs: records of the same entity type sharing at least one blocking key, each pair once
    (record_id_l < record_id_r) with the rules that found it. Oversized blocks are skipped, so no key
    pairs every record with every other; but the cap is a fixed number of records, and where blocks
    get denser with more records the pairs grow faster than the records (50x for 10x at 1M persons,
    docs/benchmarks-history.md).

    Incremental (macros/matching/pairing.sql): a build pairs again only the records keyed since its
    last build, and the members of blocks that became oversized or usable since; a pre-hook first
    deletes their built pairs and the pairs of records that are gone. Every record is paired when this
    SQL or anything upstream of it changed (`paired_by`; the pairs of the previous SQL are then
    deleted), with --full-refresh, and, as a table built whole pairs them, when every record was keyed
    since its last build (takes_every_row).
-#}
{%- set pairing_steps = usable_keys_cte() -%}
{%- set fingerprint = model_fingerprint(pairing_steps) -%}
{%- set extending = pairs_extending() -%}
{#- the index on paired_at finds the newest pair (built_through), here and in the comparisons, and the
    pairs the comparisons take again, without a scan of every pair -#}
{{ config(
    materialized='incremental',
    unique_key=['record_id_l', 'record_id_r'],
    incremental_strategy='delete+insert',
    on_schema_change='sync_all_columns',
    pre_hook=[
        "set local work_mem = '" ~ var('pairing_work_mem') ~ "'",
        "{{ pairing_planner_settings() }}",
        "{{ delete_pairs_to_pair_again(ref('int_customer_blocking_keys'), ref('int_customer_oversized_blocks'),"
        ~ " ref('int_customer_records')) }}"
    ],
    post_hook=[
        "{{ create_unique_key_index(this, ['record_id_l', 'record_id_r']) }}",
        "{{ delete_pairs_of_another_fingerprint() }}",
        "{{ create_matching_index(this, ['paired_at']) }}"
    ]
) }}

with

-- read in place (not materialized): a join can then use the tables' indexes and statistics
blocking_keys as not materialized (

    select * from {{ ref('int_customer_blocking_keys') }}

),

blocks as not materialized (

    select * from {{ ref('int_customer_oversized_blocks') }}

),

{{ pairing_steps }}

{% if extending %}
-- the records paired again
again as materialized (

    {{ records_to_pair_again(built_through('paired_at'), 'blocking_keys', 'blocks') }}

),

-- their usable keys. Kept apart: joined below with the keys' index
again_keys as materialized (

    select usable_keys.*
    from usable_keys
    where usable_keys.record_id in (select again.record_id from again)

),
{% endif %}

-- the pairs each usable key gives: the key of one record (l) with every other record that has it, in a
-- block that is therefore usable too (r: the keys alone, without their blocks). Built whole: each pair
-- once, from its left record. Extended: each key of a record paired again with every other record that
-- has it; a pair of two records paired again is met from both sides, and bit_or() counts it once
key_pairs as (

    select
        least(l.record_id, r.record_id) as record_id_l,
        greatest(l.record_id, r.record_id) as record_id_r,
        l.entity_type,
        l.blocking_rule
    from {{ 'again_keys' if extending else 'usable_keys' }} as l
    inner join blocking_keys as r
        -- the key first: a merge join then sorts by it, which tells most rows apart at once
        on
            l.blocking_key = r.blocking_key
            and l.blocking_rule = r.blocking_rule
            and l.entity_type = r.entity_type
            and l.record_id {{ '<>' if extending else '<' }} r.record_id

),

-- a record has one key per rule, so a pair meets each rule at most once (from each side)
rules_per_pair as (

    select
        record_id_l,
        record_id_r,
        entity_type,
        bit_or({{ blocking_rule_bit('blocking_rule') }}) as blocking_rule_bits
    from key_pairs
    group by record_id_l, record_id_r, entity_type

),

final as (

    select
        record_id_l,
        record_id_r,
        entity_type,
        {{ blocking_rule_names('blocking_rule_bits') }} as blocking_rules,
        {{ blocking_rule_count('blocking_rule_bits') }} as blocking_rule_count,
        now() as paired_at,
        {{ fingerprint_value(fingerprint) }} as paired_by
    from rules_per_pair

)

select * from final
