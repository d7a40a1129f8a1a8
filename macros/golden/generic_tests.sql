{#- Rows whose value does not match a POSIX regular expression (nulls pass). -#}
{% test values_match_regex(model, column_name, pattern) %}
{%- set arguments = {'column_name': column_name, 'pattern': pattern} %}
select {{ column_name }}
from {{ model }}
where not ({{ row_rule_conditions('values_match_regex', arguments)[column_name] }})
{% endtest %}


{#- Conflicting record pairs (int_customer_conflicts) that ended in the same cluster. -#}
{% test clusters_keep_conflicts_apart(model, conflicts=ref('int_customer_conflicts')) %}
select
    conflicts.record_id_l,
    conflicts.record_id_r,
    conflicts.conflict_reason
from {{ conflicts }} as conflicts
inner join {{ model }} as cluster_l on conflicts.record_id_l = cluster_l.record_id
inner join {{ model }} as cluster_r on conflicts.record_id_r = cluster_r.record_id
where cluster_l.cluster_key = cluster_r.cluster_key
{% endtest %}


{#- Values of `values` missing from the column (e.g. a field without a survivorship rule). -#}
{% test column_covers_values(model, column_name, values) %}
with expected as (
    {% for value in values %}
    select '{{ value }}' as expected_value{{ ' union all' if not loop.last }}
    {% endfor %}
)

select expected.expected_value
from expected
left join {{ model }} as model_rows on expected.expected_value = model_rows.{{ column_name }}
where model_rows.{{ column_name }} is null
{% endtest %}
