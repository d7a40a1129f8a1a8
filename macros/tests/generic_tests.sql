{#- The project's own generic data tests (documented in _generic_tests.yml). Each returns failing rows. -#}

{% test expect_column_values_to_match_regex(model, column_name, regex) %}
    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} is not null
        and not coalesce({{ regex_matches(column_name, "'" ~ (regex | replace("'", "''")) ~ "'") }}, false)
{% endtest %}


{% test expect_column_values_in_set(model, column_name, values, quote=true) %}
    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} is not null
        and {{ column_name }} not in (
            {%- for value in values -%}
                {%- if quote -%}'{{ value }}'{%- else -%}{{ value }}{%- endif -%}
                {%- if not loop.last %}, {% endif -%}
            {%- endfor -%}
        )
{% endtest %}


{% test expect_row_count_between(model, min_value=none, max_value=none) %}
    select row_count
    from (select count(*) as row_count from {{ model }}) as counted
    where false
        {%- if min_value is not none %} or row_count < {{ min_value }}{% endif %}
        {%- if max_value is not none %} or row_count > {{ max_value }}{% endif %}
{% endtest %}


{% test expect_column_pair_a_lte_b(model, column_a, column_b, allow_equal=true) %}
    select {{ column_a }}, {{ column_b }}
    from {{ model }}
    where {{ column_a }} is not null
        and {{ column_b }} is not null
        and not ({{ column_a }} {{ '<=' if allow_equal else '<' }} {{ column_b }})
{% endtest %}


{#- The shape the per-column tests below share: one scan of `model` counts, for each column of
    `failing_when` (column -> the SQL condition under which a value fails), the rows that fail, and with
    `with_example` one failing value; an unpivot then gives one failing row per column that has any:
    `column_name`, `failing_rows` and, with `with_example`, `example_value`. -#}
{% macro failing_values_per_column(model, failing_when, with_example=true, skip_when=none) %}
    select failures.*
    from (
        select
            {%- for column, condition in failing_when.items() %}
            {%- if with_example %}
            min(cast({{ column }} as {{ dbt.type_string() }})) filter (
                where {{ condition }}
            ) as {{ column }}__example_value,
            {%- endif %}
            count(*) filter (where {{ condition }}) as {{ column }}__failing_rows{{ ',' if not loop.last }}
            {%- endfor %}
        from {{ model }}
        {%- if skip_when %}
        where not {{ skip_when }}
        {%- endif %}
    ) as counted
    cross join lateral (
        values
        {%- for column in failing_when %}
        (
            '{{ column }}',
            counted.{{ column }}__failing_rows
            {%- if with_example %},
            counted.{{ column }}__example_value
            {%- endif %}
        ){{ ',' if not loop.last }}
        {%- endfor %}
    ) as failures (column_name, failing_rows{{ ', example_value' if with_example }})
    where failures.failing_rows > 0
{% endmacro %}


{#- No value of the listed columns is an empty or whitespace-only string; one scan of the model for all
    of them. Fails with one row per column that has blanks: the column's name and how many rows. -#}
{% test not_blank_columns(model, columns) %}
    {{ failing_values_per_column(
        model, failing_rows(row_rule_conditions('not_blank_columns', {'columns': columns})), with_example=false
    ) }}
{% endtest %}


{#- Every non-null value of each column matches its POSIX regular expression (`patterns`: column ->
    regex); one scan of the model for all of them. Fails with one row per column that has values not
    matching: the column's name, how many rows and one such value. -#}
{% test columns_match_regex(model, patterns) %}
    {{ failing_values_per_column(
        model, failing_rows(row_rule_conditions('columns_match_regex', {'patterns': patterns}))
    ) }}
{% endtest %}


{#- Every non-null value of each listed column is one of `values` (quoted as strings unless
    quote=false); one scan of the model for all of them. Fails with one row per column that has other
    values: the column's name, how many rows and one such value. -#}
{% test columns_values_in_set(model, columns, values, quote=true) %}
    {{ failing_values_per_column(
        model,
        failing_rows(row_rule_conditions('columns_values_in_set', {'columns': columns, 'values': values, 'quote': quote}))
    ) }}
{% endtest %}


{#- No value of the listed columns is null; one scan of the model for all of them. Fails with one row per
    column that has nulls: the column's name and how many rows. -#}
{% test not_null_columns(model, columns) %}
    {%- set failing_when = {} %}
    {%- for column in columns %}
        {%- do failing_when.update({column: column ~ " is null"}) %}
    {%- endfor %}
    {#- where the table's own not-null constraints cover every column (enforce_required_columns), no
        row can fail: the condition holds no column, so Postgres evaluates it once and skips the scan -#}
    {{ failing_values_per_column(
        model, failing_when, with_example=false, skip_when=not_null_is_enforced(model, columns)
    ) }}
{% endtest %}


{#- No two rows share the values of the given columns (rows with nulls in them count as equal on those).
    Where the warehouse already enforces the key (unique_key_is_enforced: a valid unique index on some of
    the columns, as create_unique_key_index makes), no two rows without nulls in the key can be equal, so
    only the rows with a null in it are grouped; otherwise every row is. Where not-null constraints
    cover the key's columns too (not_null_is_enforced), there are no such rows, and nothing is read. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    {{ duplicate_key_rows(model, combination_of_columns) }}
{% endtest %}


{#- dbt's `unique` test (one column or expression; nulls are not compared), found before dbt's own
    implementation through the `dispatch` search order in dbt_project.yml: where a unique index
    enforces the column (unique_key_is_enforced), no two non-null values can be equal, and the table is
    not read. -#}
{% macro postgres__test_unique(model, column_name) %}
    select
        {{ column_name }} as unique_field,
        count(*) as n_records
    from {{ model }}
    where {{ column_name }} is not null and not {{ unique_key_is_enforced(model, [column_name]) }}
    group by {{ column_name }}
    having count(*) > 1
{% endmacro %}


{#- dbt's `accepted_values` test, found before dbt's own implementation like `unique`: where the table
    holds the column to these very values with a validated check constraint (accepted_values_is_enforced;
    enforce_required_columns adds it to incremental models), no row can fail, and the table is not read.
    Null passes, as in dbt's test and in a check constraint. -#}
{% macro postgres__test_accepted_values(model, column_name, values, quote=true) %}
    select
        {{ column_name }} as value_field,
        count(*) as n_records
    from {{ model }}
    where not {{ accepted_values_is_enforced(model, column_name, values, quote) }}
    group by {{ column_name }}
    having {{ column_name }} not in ({{ value_list(values, quote) }})
{% endmacro %}


{#- A boolean expression, evaluated once per query: whether `relation` has the validated check
    constraint that holds `column` to `values` (named by accepted_values_constraint). False where it
    cannot be known. -#}
{% macro accepted_values_is_enforced(relation, column, values, quote=true) -%}
    {%- if relation.identifier is not defined -%}
        {{ return('false') }}
    {%- endif -%}
    (
        select count(*) > 0
        from pg_catalog.pg_constraint as value_check
        where
            value_check.conrelid = {{ catalog_regclass(relation) }}
            and value_check.contype = 'c'
            and value_check.convalidated
            and value_check.conname = '{{ accepted_values_constraint(column, values, quote) }}'
    )
{%- endmacro %}


{#- The rows of `model` whose values of `columns` repeat, with how many rows share them; what the
    warehouse already enforces is not read again (see unique_combination_of_columns). -#}
{% macro duplicate_key_rows(model, columns) %}
    {%- set column_list = columns | join(', ') %}
    {%- set is_enforced = unique_key_is_enforced(model, columns) %}
    {%- set has_no_nulls = not_null_is_enforced(model, columns) %}
    {#- each branch's condition on the catalog holds no column: Postgres evaluates it once, and skips the
        branch's scan when false -#}
    with key_rows as (
        select {{ column_list }}
        from {{ model }}
        where not {{ is_enforced }}
        union all
        select {{ column_list }}
        from {{ model }}
        where {{ is_enforced }} and not {{ has_no_nulls }}
            and (
                {%- for column in columns %}
                {{ 'or ' if not loop.first }}{{ column }} is null
                {%- endfor %}
            )
    )

    select {{ column_list }}, count(*) as row_count
    from key_rows
    group by {{ column_list }}
    having count(*) > 1
{% endmacro %}


{#- A boolean expression, evaluated once per query: whether a valid unique index of `relation` (no
    expression, no predicate) has only key columns among `columns`. False where it cannot be known. -#}
{% macro unique_key_is_enforced(relation, columns) -%}
    {{ return(adapter.dispatch('unique_key_is_enforced', 'customer_sync')(relation, columns)) }}
{%- endmacro %}

{% macro default__unique_key_is_enforced(relation, columns) -%}
    false
{%- endmacro %}

{% macro postgres__unique_key_is_enforced(relation, columns) -%}
    {#- a test with a `where` config reads a subquery, not a relation: nothing to look up -#}
    {%- if relation.identifier is not defined -%}
        {{ return('false') }}
    {%- endif -%}
    (
        select count(*) > 0
        from pg_catalog.pg_index as unique_index
        where
            unique_index.indrelid = {{ catalog_regclass(relation) }}
            and unique_index.indisunique
            and unique_index.indisvalid
            and unique_index.indpred is null
            and unique_index.indexprs is null
            and not exists (
                select 1
                from unnest(cast(unique_index.indkey as int2[])) with ordinality as indexed (attnum, position)
                left join pg_catalog.pg_attribute as key_column
                    on
                        key_column.attrelid = unique_index.indrelid
                        and key_column.attnum = indexed.attnum
                where
                    indexed.position <= unique_index.indnkeyatts
                    and coalesce(key_column.attname not in ({{ value_list(columns) }}), true)
            )
    )
{%- endmacro %}


{#- A flag is true exactly when a condition holds (e.g. is_phone_valid exactly when phone is not null). -#}
{% test expect_flag_matches_condition(model, column_name, condition) %}
    {%- set arguments = {'column_name': column_name, 'condition': condition} %}
    select {{ column_name }}
    from {{ model }}
    where not ({{ row_rule_conditions('expect_flag_matches_condition', arguments)[column_name] }})
{% endtest %}


{#- The row rules: for the test `kind` with its `arguments`, column -> the condition each row meets when
    the test passes (a null makes it pass, as a check constraint does). The tests fail the rows where a
    condition is false (failing_rows), and enforce_required_columns makes a check constraint of them on
    an incremental table (row_rule_condition). Empty for a test that is no row rule. -#}
{% macro row_rule_conditions(kind, arguments) -%}
    {%- set conditions = {} -%}
    {%- if kind == 'not_blank_columns' -%}
        {%- for column in arguments.get('columns', []) -%}
            {%- do conditions.update({column: "trim(cast(" ~ column ~ " as " ~ dbt.type_string() ~ ")) <> ''"}) -%}
        {%- endfor -%}
    {%- elif kind == 'columns_match_regex' -%}
        {%- for column, regex in arguments.get('patterns', {}).items() -%}
            {%- do conditions.update({column: regex_matches(column, "'" ~ (regex | replace("'", "''")) ~ "'")}) -%}
        {%- endfor -%}
    {%- elif kind == 'values_match_regex' -%}
        {%- do conditions.update({arguments.column_name: regex_matches(
            arguments.column_name, "'" ~ (arguments.pattern | replace("'", "''")) ~ "'"
        )}) -%}
    {%- elif kind == 'columns_values_in_set' -%}
        {%- for column in arguments.get('columns', []) -%}
            {%- do conditions.update({column: column ~ ' in (' ~ value_list(
                arguments.get('values', []), arguments.get('quote', true)
            ) ~ ')'}) -%}
        {%- endfor -%}
    {%- elif kind == 'matching_values_between' -%}
        {%- do conditions.update({arguments.column_name:
            arguments.column_name ~ (' >= ' if arguments.get('inclusive_min', true) else ' > ')
            ~ arguments.min_value ~ ' and ' ~ arguments.column_name
            ~ (' <= ' if arguments.get('inclusive_max', true) else ' < ') ~ arguments.max_value
        }) -%}
    {%- elif kind == 'expect_flag_matches_condition' -%}
        {%- do conditions.update({arguments.column_name:
            'coalesce(' ~ arguments.column_name ~ ', false) = coalesce(' ~ arguments.condition ~ ', false)'
        }) -%}
    {%- endif -%}
    {{ return(conditions) }}
{%- endmacro %}


{#- column -> the condition under which a row fails, from column -> the condition each row meets. -#}
{% macro failing_rows(conditions) -%}
    {%- set failing_when = {} -%}
    {%- for column, condition in conditions.items() -%}
        {%- do failing_when.update({column: 'not (' ~ condition ~ ')'}) -%}
    {%- endfor -%}
    {{ return(failing_when) }}
{%- endmacro %}


{#- A boolean expression, evaluated once per query: whether every one of `columns` is a column of
    `relation` with a not-null constraint. False where it cannot be known (another warehouse, a test
    reading a subquery, an expression rather than a column). -#}
{% macro not_null_is_enforced(relation, columns) -%}
    {{ return(adapter.dispatch('not_null_is_enforced', 'customer_sync')(relation, columns)) }}
{%- endmacro %}

{% macro default__not_null_is_enforced(relation, columns) -%}
    false
{%- endmacro %}

{% macro postgres__not_null_is_enforced(relation, columns) -%}
    {%- if relation.identifier is not defined -%}
        {{ return('false') }}
    {%- endif -%}
    {%- set names = columns | unique | list -%}
    (
        select count(*) = {{ names | length }}
        from pg_catalog.pg_attribute as required_column
        where
            required_column.attrelid = {{ catalog_regclass(relation) }}
            and required_column.attnum > 0
            and not required_column.attisdropped
            and required_column.attnotnull
            and required_column.attname in ({{ value_list(names) }})
    )
{%- endmacro %}


{#- `relation` as the catalog knows it (its oid), for the catalog lookups above. -#}
{% macro catalog_regclass(relation) -%}
    to_regclass('{{ relation.include(database=false) | replace("'", "''") }}')
{%- endmacro %}
