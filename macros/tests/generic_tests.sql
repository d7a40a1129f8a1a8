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
