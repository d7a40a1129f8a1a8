{#-
    The project's post-hook: fresh planner statistics as soon as a table is built, so that the next
    model's plan is not guessed from a never-analysed table (autovacuum comes too late inside one build).
    A table model is analysed after every build. An incremental model is analysed only when it has no
    statistics yet (built for the first time): after a build that changed a few rows the old statistics
    still hold, and analysing a wide table costs seconds every build; autovacuum's own analyse catches
    up once enough rows changed.
-#}
{% macro analyze_after_build() -%}
    {%- set materialized = config.get('materialized') -%}
    {%- if materialized == 'table' -%}
        analyze {{ this }}
    {%- elif materialized == 'incremental' -%}
        do $$
        begin
            if (
                select coalesce(stats.last_analyze, stats.last_autoanalyze) is null
                from pg_stat_user_tables as stats
                where stats.relid = '{{ this.schema }}.{{ this.identifier }}'::regclass
            ) then
                analyze {{ this }};
            end if;
        end
        $$
    {%- endif -%}
{%- endmacro %}
