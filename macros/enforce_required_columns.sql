{#-
    The project's post-hook: an incremental model's column rules become the table's own constraints, so
    that Postgres checks every row as it is written, and the tests read the catalog instead of the table:
      - the columns its not_null_columns tests list get not-null constraints (not_null_is_enforced);
      - each accepted_values test becomes a check constraint named after the column and the values
        (accepted_values_constraint, accepted_values_is_enforced);
      - unique keys are enforced by the unique indexes create_unique_key_index makes (unique_key_is_enforced);
      - each row rule test (not_blank_columns, columns_match_regex, ... see row_rule_condition) becomes
        a check constraint <test>__row_rule__<digest of the test and its condition>, commented with the
        test's unique id (row_rule_condition).
    Only tests that fail a build (severity error, no `where`) become constraints.
    An incremental table keeps its rows from build to build, and each test read all of them after each
    build for the few the build wrote: the desired states' tests read 300,000 to 1.4 million rows each
    in a 1% build at 100k persons.

    A constraint is added when the table lacks it: adding it reads the table once, as the test after
    the build would have; later builds only look it up. A --full-refresh replaces the table and adds
    none, as it makes no index (macros/matching/indexes.sql): its tests read the table, and the next
    build adds them. A rebuild (the bench's timed resolution too) so never pays for them. A row that
    breaks a rule then fails the model's build with the rule named, where the test would have failed
    after it; either way nothing downstream is built from it. The rules come from the model's tests, so
    the yml stays their one list, and a rule taken out of the yml is taken off the table by the next
    build (a column no longer required loses its not-null constraint; a check for other values is
    dropped). A model with an enforced contract keeps the constraints its contract declares and gets
    none here. A table model (rebuilt whole every build) is left to its tests, which read it once as a
    constraint would. Other warehouses get no statement.
-#}
{% macro enforce_required_columns() -%}
    {{ return(adapter.dispatch('enforce_required_columns', 'customer_sync')()) }}
{%- endmacro %}

{% macro default__enforce_required_columns() -%}
    {#- no statement -#}
{%- endmacro %}

{% macro postgres__enforce_required_columns() -%}
    {%- set contract = config.get('contract') -%}
    {%- if not execute or config.get('materialized') != 'incremental' or (contract and contract.enforced)
        or should_full_refresh() -%}
        {{ return('') }}
    {%- endif -%}
    {%- set rules = column_rules(model.unique_id) -%}
    {%- set table = "to_regclass('" ~ this.schema ~ "." ~ this.identifier ~ "')" -%}
    {%- set not_null = run_query(
        "select attname, attnotnull from pg_catalog.pg_attribute where attrelid = " ~ table
        ~ " and attnum > 0 and not attisdropped"
    ) -%}
    {%- set checks = run_query(
        "select conname from pg_catalog.pg_constraint where conrelid = " ~ table
        ~ " and contype = 'c' and (conname like '%\\_\\_accepted\\_values\\_\\_%'"
        ~ " or conname like '%\\_\\_row\\_rule\\_\\_%')"
    ).columns[0].values() | list -%}
    {%- set actions = [] -%}
    {%- for row in not_null.rows -%}
        {%- if row[1] and row[0] not in rules.required -%}
            {%- do actions.append('alter column ' ~ adapter.quote(row[0]) ~ ' drop not null') -%}
        {%- elif not row[1] and row[0] in rules.required -%}
            {%- do actions.append('alter column ' ~ adapter.quote(row[0]) ~ ' set not null') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for name in checks if name not in rules.checks -%}
        {%- do actions.append('drop constraint ' ~ name) -%}
    {%- endfor -%}
    {%- for name, condition in rules.checks.items() if name not in checks -%}
        {%- do actions.append('add constraint ' ~ name ~ ' check (' ~ condition ~ ')') -%}
    {%- endfor -%}
    {%- if actions -%}
    alter table {{ this }}
        {%- for action in actions %}
        {{ action }}{{ ',' if not loop.last }}
        {%- endfor %};
        {%- for name, test_id in rules.owners.items() if name not in checks %}
    comment on constraint {{ name }} on {{ this }} is '{{ test_id }}';
        {%- endfor %}
    {%- else -%}
    {#- no statement -#}
    {%- endif -%}
{%- endmacro %}


{#- The rules the tests attached to the node `unique_id` state on its rows: `required`, the columns
    its not_null_columns tests list, `checks`, constraint name -> condition for each of its
    accepted_values tests and row rules (row_rule_condition), and `owners`, row rule constraint name ->
    the test's unique id (the constraint's comment, by which customer_sync.enforced_rules knows the test's
    rule is enforced). Tests with a `where` config check only some rows, and a warning must not fail a
    build, so they add none. -#}
{% macro column_rules(unique_id) -%}
    {%- set rules = {'required': [], 'checks': {}, 'owners': {}} -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'test' and node.get('attached_node') == unique_id
        and not node.config.get('where') and (node.config.get('severity') or 'error') | lower == 'error' -%}
        {%- set test = node.get('test_metadata') or {} -%}
        {%- set arguments = test.get('kwargs', {}) -%}
        {%- if test.get('name') == 'not_null_columns' -%}
            {%- do rules.required.extend(arguments.get('columns', [])) -%}
        {%- elif test.get('name') == 'accepted_values' -%}
            {%- set quote = arguments.get('quote', true) -%}
            {%- do rules.checks.update({
                accepted_values_constraint(arguments.column_name, arguments['values'], quote):
                    arguments.column_name ~ ' in (' ~ value_list(arguments['values'], quote) ~ ')'
            }) -%}
        {%- else -%}
            {%- set condition = row_rule_condition(test.get('name'), arguments) -%}
            {%- if condition -%}
                {%- set digest = local_md5(node.unique_id ~ '|' ~ condition)[:12] -%}
                {%- set name = test.get('name') ~ '__row_rule__' ~ digest -%}
                {%- do rules.checks.update({name: condition}) -%}
                {%- do rules.owners.update({name: node.unique_id}) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(rules) }}
{%- endmacro %}


{#- The name of the check constraint that holds `column` to `values`: the column and a digest of the
    values, so that a constraint for other values is never taken for it. -#}
{% macro accepted_values_constraint(column, values, quote=true) -%}
    {{ return(column ~ '__accepted_values__' ~ local_md5(value_list(values, quote))[:12]) }}
{%- endmacro %}


{#- The values as a SQL list, quoted as strings or written as they are. -#}
{% macro value_list(values, quote=true) -%}
    {%- set items = [] -%}
    {%- for value in values -%}
        {%- do items.append(("'" ~ (value | string | replace("'", "''")) ~ "'") if quote else (value | string)) -%}
    {%- endfor -%}
    {{ return(items | join(', ')) }}
{%- endmacro %}


{#- The condition every row meets when the row rule test `kind` (with its `arguments`) passes, as one
    check constraint states it: the conditions of row_rule_conditions (macros/tests/generic_tests.sql,
    where the tests read them too) joined; empty for another kind of test. -#}
{% macro row_rule_condition(kind, arguments) -%}
    {{ return(row_rule_conditions(kind, arguments).values() | join(' and ')) }}
{%- endmacro %}
