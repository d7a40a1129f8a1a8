{#-
    Incremental candidate pairs (int_customer_pairs). A pair exists when its two records share a key of
    a usable block (two records or more, not oversized), so the pairs change only where a record's keys
    changed (int_customer_blocking_keys re-keys a record when its entered row changes, and stamps its
    keys with `keyed_at`) or a block crossed the size limit (int_customer_oversized_blocks' `usability_changed_at`).
    Every pair carries `paired_at`, when its build paired it; the newest one says up to when the
    blocking keys and blocks have been paired.
-#}


{#- The newest `column` value of the built table (this model's), as a SQL timestamp literal: up to when
    it has taken its input's rows, for a model that takes the rows stamped after it. '-infinity' for a
    table built whole (not incremental), empty, or built before it had the column. A literal, read when
    the model (or a hook) is rendered, lets the planner estimate from the statistics how few input
    rows are newer; a subquery would be a guess. `where`: a condition on the built rows that carry
    the column. -#}
{% macro built_through(column, where=none) -%}
    {%- set through = '-infinity' -%}
    {%- if execute and is_incremental() -%}
        {%- set built_columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
        {%- if column in built_columns -%}
            {%- set through = run_query(
                "select coalesce(max(" ~ column ~ "), '-infinity')::text from " ~ this
                ~ (" where " ~ where if where else "")
            ).columns[0].values()[0] -%}
        {%- endif -%}
    {%- endif -%}
    {{ return("'" ~ through ~ "'::timestamptz") }}
{%- endmacro %}


{#- Whether a build that extends this table would take every row of `relation` again: none of its rows
    is stamped (`since_column`) at or before the newest this table took (built_through of
    `built_column`, by default the same column). Such a build (after a cycle that re-landed most
    records, or a rebuild of the table upstream) computes the table as a table built whole does: the
    same rows, but read in place and in parallel instead of kept apart as the few changed ones (the
    pairs of every record, paired again one record at a time, took 15.6 s at 100k persons where
    pairing them whole takes 3.5-4 s). Read by the index on `since_column`; false for a table not
    extended (built whole, or a unit test). -#}
{% macro takes_every_row(relation, since_column, built_column=none) -%}
    {%- if not execute or this is none or not is_incremental() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set found = run_query(
        "select not exists (select 1 from " ~ relation ~ " where " ~ since_column ~ " <= "
        ~ built_through(built_column or since_column) ~ ")"
    ) -%}
    {{ return(found.rows[0][0] is true) }}
{%- endmacro %}


{#- The records whose pairs a build computes again: keyed, or in a block whose usability changed, after
    `paired_through` (built_through('paired_at')). A pair of such a record may be new, gone or found by
    other rules; every other pair is as built. -#}
{% macro records_to_pair_again(paired_through, blocking_keys, blocks) -%}
    select keyed.record_id
    from {{ blocking_keys }} as keyed
    where keyed.keyed_at > {{ paired_through }}
    union
    {# the few changed blocks first: their members are then found by the keys' index #}
    select members.record_id
    from {{ blocks }} as blocks
    inner join {{ blocking_keys }} as members
        on
            blocks.blocking_key = members.blocking_key
            and blocks.blocking_rule = members.blocking_rule
            and blocks.entity_type = members.entity_type
    where blocks.usability_changed_at > {{ paired_through }}
{%- endmacro %}


{#- Pre-hook of int_customer_pairs: before a build adds the pairs of the records it pairs again, delete
    their built pairs, and the pairs of records that are gone (no longer in `records`: those the
    records logged since this table last compared, or, when the log cannot say, both ends of every
    pair against the live records; macros/record_key_log.sql). Nothing to delete in a table built
    whole, empty, or built before pairs had a paired_at (the build pairs every record; the post-hook
    below deletes the old pairs). Its `paired_through` and the model's are read from the same table,
    before the hook deletes any pair. -#}
{% macro delete_pairs_to_pair_again(blocking_keys, blocks, records) -%}
{%- set paired_through = built_through('paired_at') -%}
{%- set reads_log = logs_record_keys(records) -%}
{%- if paired_through != "'-infinity'::timestamptz" -%}
{%- set gone_by_log = record_ids_gone_by_log(records) if reads_log else none -%}
with

again as materialized (

    {{ records_to_pair_again(paired_through, blocking_keys, blocks) }}
    union
    {%- if gone_by_log is not none %}
    {{ gone_by_log }}
    {%- else %}
    {# both ends of every pair against one hash of the live records #}
    select built.record_id
    from (
        select record_id_l as record_id from {{ this }}
        union all
        select record_id_r as record_id from {{ this }}
    ) as built
    where not exists (select 1 from {{ records }} as live where live.record_id = built.record_id)
    {%- endif %}

)

delete from {{ this }}
where
    record_id_l in (select again.record_id from again)
    or record_id_r in (select again.record_id from again)
{%- if reads_log %};{% endif %}
{%- endif %}
{%- if reads_log %}
{{ record_key_log_compared() }}
{%- endif -%}
{%- endmacro %}


{#- Pre-hook of int_customer_pair_comparisons: delete the comparisons whose pair int_customer_pairs
    deleted since this table's newest pair (`paired_through`) and did not find again. A pair is deleted
    only with the pairs of a record paired again (delete_pairs_to_pair_again): keyed, or in a block whose
    usability changed, after that time, or gone from `records` (the ids it logged since then,
    macros/record_key_log.sql). Their comparisons are found by their ids, each checked against the
    pairs: a comparison whose pair is there is never deleted. A comparison this misses (its pair was
    deleted otherwise: pairs built whole or by another fingerprint, the log pruned) is left to the
    model's post-hook, which deletes every comparison without a pair when the comparisons outnumber the
    pairs (delete_rows_no_longer_in, `built_covers_live`).

    Where the table has an index leading with each end (its unique key's for record_id_l, the
    post-hook's on record_id_r), the records are passed as one array to each (`= any(array(…))`), and
    Postgres reads only the rows of those records, through both indexes at once (a bitmap of each).
    Without those indexes (the first build after a --full-refresh, whose post-hook makes them), `= any`
    would compare each row with every record (27 s), and a semi-join per end looped over the records
    with a scan of every row each (55 s): the records are then hashed once and each row probes the hash
    by both ends, one scan of the table (0.13-0.17 s for the comparisons at 100k persons, 0.44 s for
    the wider scores). Each comparison found then looks its pair up by the pairs' unique index: as
    `not exists`, Postgres made that an anti-join and sorted every pair (0.8 s).

    The records are counted first: with none there is no statement, and with more than
    `lookup_limit` (records keyed again by the hundred thousand) the post-hook's anti-join is the
    cheaper way, and a hash of that many might not fit in memory, where Postgres would read the records
    again for each comparison. -#}
{% macro delete_comparisons_of_pairs_gone(pairs, blocking_keys, blocks, records, lookup_limit=100000) -%}
{%- set paired_through = built_through('paired_at') -%}
{%- set again_records -%}
    {{ records_to_pair_again(paired_through, blocking_keys, blocks) }}
    {%- if logs_record_keys(records) %}
    union
    {{ record_ids_logged_gone(records, paired_through) }}
    {%- endif %}
{%- endset -%}
{%- set again_count = 0 -%}
{#- none to count when every pair is new: the table takes every pair again, and the post-hook deletes
    the comparisons whose pair is gone -#}
{%- if execute and paired_through != "'-infinity'::timestamptz" and not takes_every_row(pairs, 'paired_at') -%}
    {%- set again_count = run_query(
        'select count(*) from (' ~ again_records ~ ') as again'
    ).columns[0].values()[0] -%}
{%- endif -%}
{%- if 0 < again_count <= lookup_limit -%}
{%- set by_index = index_leads_with(this, 'record_id_l') and index_leads_with(this, 'record_id_r') -%}
with

again as materialized (

    {{ again_records }}

)

delete from {{ this }} as built
where
    (
        {%- if by_index %}
        built.record_id_l = any(array(select again.record_id from again))
        or built.record_id_r = any(array(select again.record_id from again))
        {%- else %}
        built.record_id_l in (select again.record_id from again)
        or built.record_id_r in (select again.record_id from again)
        {%- endif %}
    )
    and not coalesce((
        select true
        from {{ pairs }} as live
        where live.record_id_l = built.record_id_l and live.record_id_r = built.record_id_r
    ), false)
{%- else -%}
select 1
{%- endif -%}
{%- endmacro %}


{#- Post-hook of int_customer_pairs: a build whose SQL or inputs' SQL changed (`paired_by`) pairs every
    record; the pairs built before it, with another fingerprint (or none: built before the column
    was), are then stale. A build that found no pair deletes none. -#}
{% macro delete_pairs_of_another_fingerprint() -%}
{%- if is_incremental() -%}
with

this_build as (

    select paired_by from {{ this }}
    where paired_at = now()
    limit 1

)

delete from {{ this }}
where
    paired_by is distinct from (select this_build.paired_by from this_build)
    and exists (select 1 from this_build)
{%- endif -%}
{%- endmacro %}


{#- The CTE of int_customer_pairs' usable keys (the model's pairing steps, which its fingerprint hashes). -#}
{% macro usable_keys_cte() -%}
-- the keys of blocks that yield pairs: not oversized (a key no other record has finds no pair below).
-- Not materialized: the keys read in place, against the few oversized blocks
usable_keys as not materialized (

    select
        blocking_keys.record_id,
        blocking_keys.entity_type,
        blocking_keys.blocking_rule,
        blocking_keys.blocking_key
    from blocking_keys
    where not exists (
        select 1
        from blocks
        where
            blocks.is_oversized_block
            and blocks.blocking_key = blocking_keys.blocking_key
            and blocks.blocking_rule = blocking_keys.blocking_rule
            and blocks.entity_type = blocking_keys.entity_type
    )

),
{%- endmacro %}


{#- Whether int_customer_pairs pairs only the records it pairs again: built with the same fingerprint, and
    some blocking key was keyed before its newest pair (otherwise it pairs every record, as built whole). -#}
{% macro pairs_extending() -%}
    {{ return(
        built_with_same_fingerprint(model_fingerprint(usable_keys_cte()), 'paired_at', 'paired_by')
        and not takes_every_row(ref('int_customer_blocking_keys'), 'keyed_at', 'paired_at')
    ) }}
{%- endmacro %}


{#- Pre-hook of int_customer_pairs: a build that pairs every record (built whole, or by another
    fingerprint) joins every usable key with every key that shares it, 1.3 million each at 100k persons.
    The planner estimates a few hundred thousand rows from that join and takes nested loops over the
    keys' index (7.5 s) or merge joins that sort the keys once per parallel worker (6.4 s); hash joins
    take 2.2 s. An incremental build keeps the index lookups for its few records. -#}
{% macro pairing_planner_settings() -%}
    {%- if pairs_extending() -%}
    select 1
    {%- else -%}
    set local enable_nestloop = off; set local enable_mergejoin = off
    {%- endif -%}
{%- endmacro %}
