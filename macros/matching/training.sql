{#-
    Trained match parameters. The u and m probabilities are estimated from the data (random pairs, EM over
    the candidate pairs) and then kept: a later build copies them instead of estimating again. Two reasons:
    the hub writes golden values back into the systems, so re-estimating from the landed data would learn
    from the hub's own writes (more pairs agree once the golden phone is everywhere, "different phone"
    weighs more against a match, and borderline customers split); and estimating is the most expensive
    step of the resolution.

    A model estimates again (trains) when any of these holds:
    - it has never been built, or was built before it kept training columns;
    - var('retrain_match_parameters') is true, or the environment variable
      CUSTOMER_SYNC_RETRAIN_MATCH_PARAMETERS is `true` (`customer-sync build --retrain` and the bench's
      timed resolution set it; `evaluate` sets the var). The environment variable is read only when the
      model runs, so unlike a changed var it does not make dbt parse the whole project again;
    - what training depends on changed: the comparison levels' SQL, seeds/match_parameters.csv, or the
      vars of the estimation (the model passes them in its fingerprint);
    - the number of standardized records moved by more than var('match_parameters_retrain_growth')
      (a share) from the number it was trained on.
-#}


{#- The fingerprint of what training depends on: the code of the named models (the estimating model and
    the models between it and the standardized records) and of every model and seed upstream of them
    (staging, standardization seeds such as ref_nicknames: dbt's checksums of their files), the
    comparison levels' SQL, the given vars and the content of seeds/match_parameters.csv. Macros are not
    in it (dbt's graph does not carry their code): after changing a standardization macro alone, build
    with --retrain. Only meaningful at execution time. -#}
{% macro match_training_fingerprint(model_names, var_values) -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set levels = comparison_levels() -%}
    {%- set parts = [levels, var_values | join('|')] -%}
    {%- do parts.extend(similarity_function_definitions(levels)) -%}
    {%- for name in model_names -%}
        {%- do parts.append(graph.nodes['model.' ~ project_name ~ '.' ~ name].raw_code) -%}
    {%- endfor -%}
    {#- upstream models and seeds (macros/standardize/landed_changes.sql) -#}
    {%- set unique_ids = [] -%}
    {%- for name in model_names %}{% do unique_ids.append('model.' ~ project_name ~ '.' ~ name) %}{% endfor -%}
    {%- do parts.extend(upstream_checksums(unique_ids)) -%}
    {#- none when compiled before the seeds were loaded (dbt compile, a linter on a new warehouse):
        nothing to keep -#}
    {%- set seed_rows = relation_rows_text(ref('match_parameters')) -%}
    {%- do parts.append('no seed' if seed_rows is none else seed_rows) -%}
    {{ return(local_md5(parts | join('#'))) }}
{%- endmacro %}


{#- Every row of `relation` as text, in one string (in a stable order): for a fingerprint of a small
    table's content. None when the relation is not built (compiled before it was). -#}
{% macro relation_rows_text(relation) -%}
    {%- if adapter.get_relation(
        database=relation.database, schema=relation.schema, identifier=relation.identifier
    ) is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(run_query(
        "select coalesce(string_agg(table_row::text, '|' order by table_row::text), '') from "
        ~ relation ~ " as table_row"
    ).columns[0].values()[0]) }}
{%- endmacro %}


{#- Whether the current model (`this`) must estimate its parameters again; see the file's comment. -#}
{% macro match_parameters_need_training(fingerprint) -%}
    {#- `or` stops at the first true: the environment variable is read at execution only, never while
        parsing, so dbt does not record it as a parse input -#}
    {%- if not execute or var('retrain_match_parameters', false)
        or env_var('CUSTOMER_SYNC_RETRAIN_MATCH_PARAMETERS', 'false') | lower == 'true' -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set existing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
    {%- if existing is none -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set column_names = adapter.get_columns_in_relation(existing) | map(attribute='name') | list -%}
    {%- if 'trained_fingerprint' not in column_names or 'trained_records' not in column_names -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set stored = run_query(
        "select min(trained_fingerprint), max(trained_fingerprint), min(trained_records), count(*) from "
        ~ existing
    ) -%}
    {%- set stored_row = stored.rows[0] -%}
    {%- if stored_row[3] == 0 or stored_row[0] != fingerprint or stored_row[1] != fingerprint -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set records = ref('int_customer_records') -%}
    {%- if adapter.get_relation(database=records.database, schema=records.schema, identifier=records.identifier) is none -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set current = run_query("select count(*) from " ~ records) -%}
    {%- set current_records = current.columns[0].values()[0] | int -%}
    {%- set trained_records = stored_row[2] | int -%}
    {%- set growth = var('match_parameters_retrain_growth') -%}
    {{ return(trained_records == 0 or (current_records - trained_records) | abs > growth * trained_records) }}
{%- endmacro %}


{#- Columns every trained-parameter row carries: when, on how many records and on what it was trained.
    `records` is a relation (CTE) of the standardized records. -#}
{% macro match_training_columns(fingerprint, records) -%}
    (select count(*) from {{ records }}) as trained_records,
    '{{ fingerprint }}' as trained_fingerprint,
    now() as trained_at
{%- endmacro %}
