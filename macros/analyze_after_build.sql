{#-
    The project's post-hook: fresh planner statistics as soon as a table is built, so that the next
    model's plan is not guessed from a never-analysed table (autovacuum comes too late inside one build).
    A table model is analysed after every build. An incremental model is analysed when it has no
    statistics yet (built for the first time), when its planner estimate was reset (a build that
    rewrote it: rewrite_table_with_rows), or when this build wrote more rows than half the table's
    (pg_stat_xact_user_tables: this transaction's own writes). After a build that changed a few rows
    the old statistics still hold, and analysing a wide table costs seconds every build; autovacuum's
    own analyse catches up once enough rows changed.
    A model may limit the statistics to the columns its readers filter or join on (meta
    `analyze_columns` in its config), in either case: analysing every column of a wide table samples
    and sorts each of them (0.9 s on the 200,000 entered records, 0.1 s for their record_id alone).
-#}
{% macro analyze_after_build() -%}
    {%- set materialized = config.get('materialized') -%}
    {%- set columns = (config.get('meta') or {}).get('analyze_columns') -%}
    {%- if materialized == 'table' -%}
        analyze {{ this }}{% if columns %} ({{ columns | join(', ') }}){% endif %}
    {%- elif materialized == 'incremental' -%}
        do $$
        begin
            if (
                select
                    coalesce(stats.last_analyze, stats.last_autoanalyze) is null
                    or class.reltuples < 0
                    or coalesce(written.n_tup_ins + written.n_tup_upd + written.n_tup_del, 0)
                    > 0.5 * class.reltuples
                from pg_catalog.pg_class as class
                left join pg_stat_user_tables as stats on class.oid = stats.relid
                left join pg_stat_xact_user_tables as written on class.oid = written.relid
                where class.oid = '{{ this.schema }}.{{ this.identifier }}'::regclass
            ) then
                analyze {{ this }}{% if columns %} ({{ columns | join(', ') }}){% endif %};
            end if;
        end
        $$
    {%- endif -%}
{%- endmacro %}
