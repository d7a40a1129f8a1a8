{#- Generic data tests of the matching models. Each returns the failing rows. (A combination of
    columns that must be unique: unique_combination_of_columns, macros/tests/generic_tests.sql.) -#}

{#- A pair is stored once, the smaller record id on the left. -#}
{% test matching_pairs_are_ordered(model, left_column='record_id_l', right_column='record_id_r') %}
    select *
    from {{ model }}
    where not ({{ left_column }} < {{ right_column }})
{% endtest %}


{#- Every value lies between min_value and max_value (bounds inclusive unless told otherwise). -#}
{% test matching_values_between(model, column_name, min_value, max_value, inclusive_min=true, inclusive_max=true) %}
    {%- set arguments = {
        'column_name': column_name, 'min_value': min_value, 'max_value': max_value,
        'inclusive_min': inclusive_min, 'inclusive_max': inclusive_max,
    } %}
    select *
    from {{ model }}
    where not ({{ row_rule_conditions('matching_values_between', arguments)[column_name] }})
{% endtest %}
