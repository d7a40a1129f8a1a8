{#-
    Incremental candidate pairs (int_customer_pairs). A pair exists when its two records share a key of
    a usable block (two records or more, not oversized), so the pairs change only where a record's keys
    changed (int_customer_blocking_keys re-keys a record when its entered row changes, and stamps its
    keys with `keyed_at`) or a block crossed the size limit (int_customer_blocks' `usability_changed_at`).
    Every pair carries `paired_at`, when its build paired it; the newest one says up to when the
    blocking keys and blocks have been paired.
-#}


{#- The records whose pairs a build computes again: keyed, or in a block whose usability changed, after
    the newest pair of `pairs` (all records when it has none). A pair of such a record may be new,
    gone or found by other rules; every other pair is as built. -#}
{% macro records_to_pair_again(pairs, blocking_keys, blocks) -%}
    {%- set paired_through -%}
        (select coalesce(max(paired_at), '-infinity'::timestamptz) from {{ pairs }})
    {%- endset -%}
    select keyed.record_id
    from {{ blocking_keys }} as keyed
    where keyed.keyed_at > {{ paired_through }}
    union
    select members.record_id
    from {{ blocking_keys }} as members
    inner join {{ blocks }} as blocks
        on
            members.blocking_key = blocks.blocking_key
            and members.blocking_rule = blocks.blocking_rule
            and members.entity_type = blocks.entity_type
    where blocks.usability_changed_at > {{ paired_through }}
{%- endmacro %}


{#- Pre-hook of int_customer_pairs: before a build adds the pairs of the records it pairs again, delete
    their built pairs, and the pairs of records that are gone (no longer in `records`). The build that
    follows finds the newest remaining pair older than or as old as the one this hook saw, so it pairs
    again at least these records. Nothing to delete in a table built whole. -#}
{% macro delete_pairs_to_pair_again(blocking_keys, blocks, records) -%}
{%- if is_incremental() -%}
with

again as materialized (

    {{ records_to_pair_again(this, blocking_keys, blocks) }}
    union
    select built.record_id_l
    from {{ this }} as built
    where not exists (select 1 from {{ records }} as live where live.record_id = built.record_id_l)
    union
    select built.record_id_r
    from {{ this }} as built
    where not exists (select 1 from {{ records }} as live where live.record_id = built.record_id_r)

)

delete from {{ this }}
where
    record_id_l = any(array(select again.record_id from again))
    or record_id_r = any(array(select again.record_id from again))
{%- endif -%}
{%- endmacro %}


{#- Post-hook of int_customer_pairs: a build whose SQL or inputs' SQL changed (`paired_by`) pairs every
    record; the pairs built before it, with another fingerprint, are then stale. -#}
{% macro delete_pairs_of_another_fingerprint() -%}
{%- if is_incremental() -%}
delete from {{ this }}
where paired_by <> (select paired_by from {{ this }} where paired_at = now() limit 1)
{%- endif -%}
{%- endmacro %}
