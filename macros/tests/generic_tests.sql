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


{% test expect_column_values_not_blank(model, column_name) %}
    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} is not null
        and trim(cast({{ column_name }} as {{ dbt.type_string() }})) = ''
{% endtest %}


{#- No value of the listed columns is null; one scan of the model for all of them. Fails with one row per
    column that has nulls: the column's name and how many rows. -#}
{% test not_null_columns(model, columns) %}
    select null_counts.column_name, null_counts.null_rows
    from (
        select
            {%- for column in columns %}
            count(*) filter (where {{ column }} is null) as {{ column }}__null_rows{{ ',' if not loop.last }}
            {%- endfor %}
        from {{ model }}
    ) as counted
    cross join lateral (
        values
        {%- for column in columns %}
        ('{{ column }}', counted.{{ column }}__null_rows){{ ',' if not loop.last }}
        {%- endfor %}
    ) as null_counts (column_name, null_rows)
    where null_counts.null_rows > 0
{% endtest %}


{% test unique_combination_of_columns(model, combination_of_columns) %}
    select {{ combination_of_columns | join(', ') }}, count(*) as row_count
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1
{% endtest %}


{#- A flag is true exactly when a condition holds (e.g. is_phone_valid exactly when phone is not null). -#}
{% test expect_flag_matches_condition(model, column_name, condition) %}
    select {{ column_name }}
    from {{ model }}
    where coalesce({{ column_name }}, false) <> coalesce({{ condition }}, false)
{% endtest %}
