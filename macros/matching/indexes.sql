{#-
    Indexes for the incremental builds: the lookups and writes of a build that extends a table. Each is
    made by a post-hook, once (a later build finds it in place), and never by a `--full-refresh`: that
    build replaces the table, and the table it replaces keeps the index names until dbt drops it after
    the hooks, so `create index if not exists` under those names found them taken and created nothing.
    Such a build used to leave its table without indexes by accident, and the build after it (for a
    table model, every other build) made them; now it leaves them by rule, and the next build makes
    them. A rebuild (the bench's timed resolution too) thus never pays for them in one run and not in the
    next.

    Post-hook: an index on a matching table where later joins and lookups pay for it.
    Postgres only; other warehouses get no statement.
-#}
{% macro create_matching_index(relation, columns) -%}
    {{ return(adapter.dispatch('create_matching_index', 'customer_sync')(relation, columns)) }}
{%- endmacro %}

{% macro default__create_matching_index(relation, columns) -%}
    {#- no statement -#}
{%- endmacro %}

{% macro postgres__create_matching_index(relation, columns) -%}
    {%- if should_full_refresh() -%}
    {#- no statement -#}
    {%- else -%}
    create index if not exists {{ relation.identifier }}__{{ columns | join('__') }}__idx
    on {{ relation }} ({{ columns | join(', ') }})
    {%- endif -%}
{%- endmacro %}


{#-
    Post-hook: a unique index on a table's grain (`columns`). Postgres then refuses a duplicate on
    every write (a build fails with the duplicated key instead of building it), and the
    unique_combination_of_columns test need not sort the table (unique_key_is_enforced). Created once
    per table: an incremental build finds it in place. Other warehouses get no statement.
-#}
{% macro create_unique_key_index(relation, columns) -%}
    {{ return(adapter.dispatch('create_unique_key_index', 'customer_sync')(relation, columns)) }}
{%- endmacro %}

{% macro default__create_unique_key_index(relation, columns) -%}
    {#- no statement -#}
{%- endmacro %}

{% macro postgres__create_unique_key_index(relation, columns) -%}
    {%- set name = relation.identifier ~ '__' ~ (columns | join('__')) ~ '__key' -%}
    {%- if should_full_refresh() or index_exists(relation, name) -%}
    {#- no statement -#}
    {%- else -%}
    create unique index if not exists {{ name }}
    on {{ relation }} ({{ columns | join(', ') }})
    {%- endif -%}
{%- endmacro %}


{#- Whether `relation` has the index `name`, read from the catalog: a table that has it needs no
    `create index if not exists`, which would take a lock on the table. -#}
{% macro index_exists(relation, name) -%}
    {%- set found = run_query(
        "select 1 from pg_catalog.pg_indexes where schemaname = '" ~ relation.schema
        ~ "' and tablename = '" ~ relation.identifier ~ "' and indexname = '" ~ name ~ "'"
    ) if execute else none -%}
    {{ return(found is not none and found.rows | length > 0) }}
{%- endmacro %}


{#-
    Post-hook: an index on the rows of `relation` where `where` holds, on `columns`, carrying the
    `include` columns too (none when empty): a query that reads only those rows and columns is answered
    from the index alone (an index-only scan), not from the whole table. Named `<table>__<name>__idx`;
    created once. Other warehouses get no statement.
-#}
{% macro create_partial_index(relation, name, columns, include, where) -%}
    {{ return(adapter.dispatch('create_partial_index', 'customer_sync')(relation, name, columns, include, where)) }}
{%- endmacro %}

{% macro default__create_partial_index(relation, name, columns, include, where) -%}
    {#- no statement -#}
{%- endmacro %}

{% macro postgres__create_partial_index(relation, name, columns, include, where) -%}
    {%- set index_name = relation.identifier ~ '__' ~ name ~ '__idx' -%}
    {%- if should_full_refresh() or index_exists(relation, index_name) -%}
    {#- no statement -#}
    {%- else -%}
    create index if not exists {{ index_name }}
    on {{ relation }} ({{ columns | join(', ') }})
    {%- if include %} include ({{ include | join(', ') }}){% endif %}
    where {{ where }}
    {%- endif -%}
{%- endmacro %}


{#-
    Post-hook: drop the index `<table>__<name>__idx` of `relation` if it is there: an index that an
    earlier version of the model made and that another one replaces (a changed index keeps its name's
    old definition under `create index if not exists`, so the replacement has a name of its own).
    Postgres only.
-#}
{% macro drop_replaced_index(relation, name) -%}
    {{ return(adapter.dispatch('drop_replaced_index', 'customer_sync')(relation, name)) }}
{%- endmacro %}

{% macro default__drop_replaced_index(relation, name) -%}
    {#- no statement -#}
{%- endmacro %}

{% macro postgres__drop_replaced_index(relation, name) -%}
    {%- set index_name = relation.identifier ~ '__' ~ name ~ '__idx' -%}
    {%- if index_exists(relation, index_name) -%}
    drop index {{ relation.schema }}.{{ index_name }}
    {%- else -%}
    {#- no statement -#}
    {%- endif -%}
{%- endmacro %}


{#-
    Post-hook of a snapshot: an index on its current versions (`dbt_valid_to is null`) by `column`,
    'unique_key' for the snapshot's own key. Each run of a check snapshot reads the current versions
    (to compare them with the source) and closes the changed ones by dbt_scd_id; without an index both
    read every version the snapshot ever kept, so a snapshot taken every hour got slower every hour.
    With them, a run reads the current versions and the few it closes, however long the history.
-#}
{% macro index_current_snapshot_versions(column) -%}
    {%- set indexed = config.get('unique_key') if column == 'unique_key' else column -%}
    {{ create_partial_index(this, 'current_' ~ indexed, [indexed], [], 'dbt_valid_to is null') }}
{%- endmacro %}
