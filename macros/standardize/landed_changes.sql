{#-
    Incremental standardization. A base model standardizes each landed record on its own: its output
    row is a function of the record's `renamed` row (the source columns it reads, the values it looks
    up, when it was loaded), the standardization SQL and the reference seeds. So a build needs to
    standardize only the records whose `renamed` row changed since the last build:

    - `landed_hash` is the md5 of the whole `renamed` row, or of the one landed row it renames when it
      looks nothing up (landed_row_hash). A record is standardized again when no row of the built
      table has its record id with that hash (new, changed, re-landed, or its looked-up organization
      or parent changed).
    - `standardized_by` is the fingerprint of everything else the output depends on: the rendered
      SQL of the standardization steps (macros and vars expanded), the model's own file, and dbt's
      checksums of every model and seed upstream of it (ref_country_codes, ref_nicknames …). When it
      differs from the built table's, every record is standardized again. `--full-refresh` rebuilds.
    - Records no longer landed (a source re-landed whole after a refresh) are deleted after the
      insert (`delete_records_no_longer_landed`, a post-hook), matched on dlt's row id.

    A model uses it as:
        {% set steps %} …standardization CTEs reading `changed`… {% endset %}
        {% set fingerprint = model_fingerprint(steps) %}
        with … renamed as (…, source._dlt_id as landed_row_id …),
        {{ landed_changes_ctes('renamed', fingerprint) }}
        {{ steps }}
        {{ standardized_with_landing('standardized', fingerprint) }}
-#}


{#- The model config shared by the base models: incremental on the record id (a unique index on it
    enforces the grain, and lets a reader that needs a few records, such as sync_field_comparisons,
    find them without reading the table); the landed rows are `source(source_name, table_name)`. -#}
{% macro landed_changes_config(source_name, table_name) -%}
    {{ config(
        materialized='incremental',
        unique_key='record_id',
        incremental_strategy='delete+insert',
        on_schema_change='sync_all_columns',
        post_hook=[
            "{{ delete_records_no_longer_landed(source('" ~ source_name ~ "', '" ~ table_name ~ "')) }}",
            "{{ create_unique_key_index(this, ['record_id']) }}",
            "{{ create_matching_index(this, ['standardized_at']) }}"
        ]
    ) }}
{%- endmacro %}


{#- The model config shared by the models that recompute only their changed rows (changed_rows_cte):
    incremental on `key_columns`; a unique index on `row_key_columns` (the grain, by default the key
    columns; [] for none, where a contract's primary key already is one) enforces the grain on every
    insert, finds the rows a build replaces, and lets the unique_combination_of_columns test skip its
    sort; after the insert, the built rows whose key is no longer in the model `live_model` (its rows
    where `live_where` holds, if given) are deleted (delete_rows_no_longer_in; `built_rows_where` picks
    one built row per key). A model with an enforced contract passes
    `on_schema_change='append_new_columns'` (dbt allows no other that adapts): a column it drops then
    needs a --full-refresh. `hash_joins_only`: the model's joins of the changed rows go by hash, never
    by nested loop: the planner cannot estimate how many rows a CTE like `changed` holds and guesses a
    few, and a nested loop over thousands of them reads its inner side thousands of times, where a
    hash join costs about the same for ten rows or ten thousand. `strategy`: 'delete+insert', or
    'upsert_changed_rows' (macros/upsert_changed_rows.sql), which writes only the rows that differ.
    `built_covers_live`: after a build, every key of `live_model` has a built row (the build takes all
    the live rows it has not taken yet), so the built rows outnumber the live keys exactly when some are
    gone; the anti-join then runs only in that case (delete_rows_no_longer_in). `logged_by`: the model
    whose record key log names the records that leave `live_model` (a table with a row per record of
    it). `live_changed_since`: [stamp column of `live_model`, the model's own build stamp column], where
    a key that leaves `live_model` has a row there, not live, stamped by the build it left in
    (int_customer_golden_ids' tombstones; delete_rows_no_longer_in). -#}
{% macro changed_rows_config(
    key_columns, live_model, row_key_columns=none, live_where=none, on_schema_change='sync_all_columns',
    built_rows_where=none, hash_joins_only=false, strategy='delete+insert', built_covers_live=false,
    logged_by=none, live_changed_since=none
) -%}
    {%- set row_key = row_key_columns if row_key_columns is not none else key_columns -%}
    {%- set hooks = [] -%}
    {%- if row_key -%}
        {%- do hooks.append("{{ create_unique_key_index(this, " ~ (row_key | tojson) ~ ") }}") -%}
    {%- endif -%}
    {%- do hooks.append(
        "{{ delete_rows_no_longer_in(ref('" ~ live_model ~ "'), " ~ (key_columns | tojson) ~ ", "
        ~ ((live_where | tojson) if live_where else 'none') ~ ", "
        ~ ((built_rows_where | tojson) if built_rows_where else 'none') ~ ", "
        ~ (built_covers_live | tojson) ~ ", "
        ~ ("ref('" ~ logged_by ~ "')" if logged_by else 'none') ~ ", "
        ~ ((live_changed_since | tojson) if live_changed_since else 'none') ~ ") }}"
    ) -%}
    {{ config(
        materialized='incremental',
        unique_key=key_columns,
        incremental_strategy=strategy,
        row_key_columns=row_key,
        on_schema_change=on_schema_change,
        pre_hook=(["set local enable_nestloop = off"] if hash_joins_only else []),
        post_hook=hooks
    ) }}
{%- endmacro %}


{#- The fingerprint as a column value, for the column the next build compares (built_with_same_fingerprint). -#}
{% macro fingerprint_value(fingerprint) -%}
    cast('{{ fingerprint }}' as {{ dbt.type_string() }})
{%- endmacro %}


{#- md5 of the rendered steps, the definitions of the functions they call, the current model's file and
    every upstream model and seed checksum. -#}
{% macro model_fingerprint(rendered_steps) -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set parts = [rendered_steps] -%}
    {%- do parts.extend(similarity_function_definitions(rendered_steps)) -%}
    {%- do parts.extend(upstream_checksums([model.unique_id])) -%}
    {{ return(local_md5(parts | join('#'))) }}
{%- endmacro %}


{#- `<unique_id>=<checksum>` of the given nodes and every model and seed upstream of them, breadth first
    (the loop also visits the nodes it appends). -#}
{% macro upstream_checksums(unique_ids) -%}
    {%- set parts = [] -%}
    {%- set pending = [] -%}
    {%- set seen = [] -%}
    {%- do pending.extend(unique_ids) -%}
    {%- for unique_id in pending -%}
        {%- if unique_id not in seen and unique_id in graph.nodes -%}
            {%- do seen.append(unique_id) -%}
            {%- set node = graph.nodes[unique_id] -%}
            {%- do parts.append(unique_id ~ '=' ~ node.checksum.checksum) -%}
            {%- do pending.extend(node.depends_on.nodes) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(parts) }}
{%- endmacro %}


{#- Whether the built table can be extended: incremental, and built with the same fingerprint (read
    from `fingerprint_column`; a table without it or without `hash_column` is rebuilt). Every row of a
    built table has the same fingerprint: a build that finds another one computes every row again, in
    the one transaction of the incremental model. So one row says it, without reading the table. -#}
{% macro built_with_same_fingerprint(fingerprint, hash_column='landed_hash', fingerprint_column='standardized_by') -%}
    {#- a unit test has no built table (`this` is none): it computes its given rows -#}
    {%- if this is none or not is_incremental() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set column_names = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
    {%- if fingerprint_column not in column_names or hash_column not in column_names -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set built = run_query("select " ~ fingerprint_column ~ " from " ~ this ~ " limit 1").rows -%}
    {{ return(built | length == 0 or built[0][0] == fingerprint) }}
{%- endmacro %}


{#- `changed`: the `renamed` rows to standardize in this build, with their hash. `renamed_hashed`: the
    model's `renamed` rows are a projection of one landed row each (no lookups), and carry that landed
    row's hash as `landed_hash` already (landed_row_hash): the unchanged rows are then left out before
    they are renamed, where renaming every row (timestamps, a company-name regex) cost more than the
    hash (1.9 s against 0.3 s on 55,000 billing customers). Otherwise the whole `renamed` row is hashed,
    which includes the values it looked up. -#}
{% macro landed_changes_ctes(renamed, fingerprint, renamed_hashed=false) -%}
{#- a table built whole renames every row once (the steps and the final select both read `changed`) -#}
{%- set renames_changed_only = renamed_hashed
    and built_with_same_fingerprint(fingerprint, 'landed_hash', 'standardized_by') %}
{%- if not renames_changed_only %}
hashed as materialized (

    select
        {{ renamed }}.*
        {%- if not renamed_hashed %},
        md5(cast({{ renamed }} as text)) as landed_hash
        {%- endif %}
    from {{ renamed }}

),
{%- endif %}

{{ changed_rows_cte(
    renamed if renames_changed_only else 'hashed', fingerprint, ['record_id'], 'landed_hash', 'standardized_by'
) }}
{%- endmacro %}


{#- The landed rows of `source_relation`, each with the md5 of the whole row as `landed_hash`.

    Given the model's `fingerprint`, a build that extends the table hashes only the rows landed since
    it was built: the rows whose dlt row id (`_dlt_id`) no built row has as its `landed_row_id`. dlt
    gives every row it lands a new random row id (the merge disposition's delete-insert strategy), so a
    landed row whose id a built row has is the very row that was standardized: unchanged. The rest are
    new or landed again; the hash covers their row id too, so changed_rows_cte takes every one of them,
    as it did when every row was hashed. Hashing every landed row's text took most of a base model's
    time in a build with few changes (0.5-0.7 s for 55,000-75,000 rows at 100k persons). -#}
{% macro landed_row_hash(source_relation, fingerprint=none) -%}
select
    landed.*,
    md5(cast(landed as text)) as landed_hash
from {{ source_relation }} as landed
{%- if fingerprint is not none and built_with_same_fingerprint(fingerprint, 'landed_hash', 'standardized_by') %}
where not exists (
    select 1
    from {{ this }} as built
    where built.landed_row_id = landed._dlt_id
)
{%- endif %}
{%- endmacro %}


{#- `changed`: the rows of `relation` (which has `hash_column`, the hash of every input of a row) that
    the built table lacks: no built row has their key (`key_columns`) with that hash. All rows when the
    table cannot be extended (built_with_same_fingerprint). `built_rows_where`: a condition on the built
    rows (`built`) that keeps one per key, when the table holds several rows per key. `since_column`:
    instead of the hashes, a time `relation` stamps on the rows it changed (the model keeps it): the
    rows stamped after the newest the built table has (built_through, macros/matching/pairing.sql).
    `since_relation`: the relation `relation` reads its rows from, whose `since_column` is indexed: when
    every row of it is stamped after that, all rows are taken as by a table built whole
    (takes_every_row). -#}
{% macro changed_rows_cte(
    relation, fingerprint, key_columns, hash_column, fingerprint_column, built_rows_where=none, since_column=none,
    since_relation=none
) -%}
{%- set extending = built_with_same_fingerprint(fingerprint, hash_column, fingerprint_column)
    and not (since_relation is not none and takes_every_row(since_relation, since_column)) %}
{#- the few changed rows are kept apart; all rows are read in place, where the planner sees them whole #}
changed as {{ 'materialized' if extending else 'not materialized' }} (

    select {{ relation }}.*
    from {{ relation }}
    {%- if extending and since_column %}
    where {{ relation }}.{{ since_column }} > {{ built_through(since_column) }}
    {%- elif extending %}
    where not exists (
        select 1
        from {{ this }} as built
        where
            {%- for key in key_columns %}
            built.{{ key }} = {{ relation }}.{{ key }}
            and {% endfor %}built.{{ hash_column }} = {{ relation }}.{{ hash_column }}
            {%- if built_rows_where %}
            and {{ built_rows_where }}
            {%- endif %}
    )
    {%- endif %}

),
{%- endmacro %}


{#- The ids of the records whose row a build wrote after `through` (built_through) in any of `stamped`:
    pairs of a relation with a `record_id` and its stamp column (the start of the build that wrote the
    row, indexed), read as one `union all` of index lookups. The models that recompute by stamps
    (int_customer_field_winners, sync_field_comparisons) take their changed records from it. -#}
{% macro records_stamped_after(through, stamped) -%}
{%- for relation, column in stamped %}
select record_id
from {{ relation }}
where {{ column }} > {{ through }}
{%- if not loop.last %}
union all
{%- endif %}
{%- endfor %}
{%- endmacro %}


{#- The final select: the standardized rows with what the next build compares, and when a build wrote
    them (`standardized_at`, the build's start): a reader that keeps up to when it took the records
    (sync_field_comparisons) finds the records written since by the index on it. -#}
{% macro standardized_with_landing(standardized, fingerprint) -%}
select
    {{ standardized }}.*,
    changed.landed_row_id,
    changed.landed_hash,
    {{ fingerprint_value(fingerprint) }} as standardized_by,
    {{ build_timestamp() }} as standardized_at
from {{ standardized }}
inner join changed
    on {{ standardized }}.record_id = changed.record_id
{%- endmacro %}


{#- Post-hook: delete the built records whose landed row is gone (dlt's row id no longer in the source). -#}
{% macro delete_records_no_longer_landed(source_relation) -%}
{%- set gone_records -%}
    select built.record_id
    from {{ this }} as built
    where not exists (
        select 1
        from {{ source_relation }} as landed
        where landed._dlt_id = built.landed_row_id
    )
{%- endset -%}
{{ delete_rows_with_keys('record_id', gone_records) }}
{%- endmacro %}


{#- `delete` of this model's rows whose `key_column` is one of the keys `keys_sql` selects. The keys are
    found first and taken as one array, whose `= any` finds their rows by the table's index on the key:
    a delete that joins the table to what the keys are computed from hashes every built row with its
    row address first (0.35 s against 0.23 s for none gone, on 215,000 records). -#}
{% macro delete_rows_with_keys(key_column, keys_sql) -%}
delete from {{ this }}
where {{ key_column }} = any(array(
{{ keys_sql }}
))
{%- endmacro %}


{#- Post-hook: delete the built rows whose key (`key_columns`) is no longer in `relation` (in its rows
    where `where` holds, if given). `built_where` picks one built row per key where the table has
    several (fewer keys to compare; every row of a deleted key goes). The gone keys are found by an
    anti-join, which hashes the live keys (the smaller side) and reads the built table once; an `except`
    sorted the built keys when they did not fit in memory (3.4 s on a million blocking keys, 0.8 s so).
    A single-column key's rows are then found through the table's index, as `= any` of one array.
    Where `relation` logs the record ids it deletes (macros/record_key_log.sql), a table keyed by
    record_id takes them from the log instead, and marks that it compared; a table that logs its own
    deletions logs these. `built_covers_live` (a multi-column key, no `where`): every live key has a
    built row, so the anti-join runs only when the built rows outnumber the live ones (two counts,
    about 0.1 s at 340,000 pairs, where the anti-join read both tables whole: 0.6-1.3 s). `logged_by`:
    a logging table that has a record exactly when `relation` has it, whose log then names the records
    gone from `relation` too (customer_xref has a row per record of int_customer_records: the test
    assert_every_live_record_has_one_customer). `live_changed_since` ([stamp column of `relation`, this
    table's build stamp column], a single-column key): a key that leaves `relation` has a row there
    that is not live (`where` false) stamped by the build it left in (build_timestamp), so the keys
    gone since this table's last build before this one (its newest stamp older than this build's) are
    among those of such rows stamped after it, found by the stamp's index: only they are checked, not
    every built key (int_customer_field_winners read its 1.9 million rows for none gone, 0.3-0.5 s at
    100k persons). Each build deletes the keys gone since the one before it, so none is left behind;
    when no earlier build has a row here, every such row of `relation` is looked at. -#}
{% macro delete_rows_no_longer_in(
    relation, key_columns, where=none, built_where=none, built_covers_live=false, logged_by=none,
    live_changed_since=none
) -%}
{%- set log_relation = logged_by if logged_by is not none else relation -%}
{%- set reads_log = key_columns == ['record_id'] and not where and logs_record_keys(log_relation)
    and (logged_by is not none or not built_where) -%}
{%- set gone_by_log = record_ids_gone_by_log(log_relation) if reads_log and is_incremental() else none -%}
{%- set keys = key_columns | join(', ') -%}
{%- set gone_keys -%}
    {%- if gone_by_log is not none %}
    {{ gone_by_log }}
    {%- elif live_changed_since and key_columns | length == 1 %}
    {%- set live_stamp, built_stamp = live_changed_since %}
    select distinct changed.{{ keys }}
    from {{ relation }} as changed
    where
        changed.{{ live_stamp }} > coalesce(
            (
                select max(built.{{ built_stamp }})
                from {{ this }} as built
                where built.{{ built_stamp }} < {{ build_timestamp() }}
            ),
            '-infinity'
        )
        {%- if where %}
        and not ({{ where }})
        {%- endif %}
        and not exists (
            select 1
            from {{ relation }} as live
            where
                live.{{ keys }} = changed.{{ keys }}
                {%- if where %}
                and ({{ where }})
                {%- endif %}
        )
    {%- else %}
    select distinct
        {%- for key in key_columns %} built.{{ key }}{{ ',' if not loop.last }}{% endfor %}
    from {{ this }} as built
    where
        {%- if built_where %} {{ built_where }} and{% endif %} not exists (
            select 1
            from {{ relation }} as live
            where
                {%- for key in key_columns %}
                live.{{ key }} = built.{{ key }}{{ ' and' if not loop.last }}
                {%- endfor %}
                {%- if where %}
                and ({{ where }})
                {%- endif %}
        )
    {%- endif %}
{%- endset -%}
{%- if logs_record_keys(this) %}
{{ delete_and_log_record_ids(gone_keys) }}
{%- elif not is_incremental() %}
{#- a table built whole (--full-refresh) has nothing to delete -#}
{%- elif key_columns | length == 1 %}
{{ delete_rows_with_keys(keys, gone_keys) }}
{%- else %}
delete from {{ this }}
where ({{ keys }}) in ({{ gone_keys }})
{%- if built_covers_live %}
    {#- both counts first, as a one-time filter: equal counts end the statement before any scan for keys #}
    and (select count(*) from {{ this }}) > (select count(*) from {{ relation }})
{%- endif %}
{%- endif %}
{%- if reads_log %}{{ ';' if logs_record_keys(this) or is_incremental() }}
{{ record_key_log_compared() }}
{%- endif %}
{%- endmacro %}
