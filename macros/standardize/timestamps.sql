{#-
    dlt's _dlt_load_id (the load's unix time in seconds, as text) as a timestamp with time zone.
-#}
{% macro dlt_load_id_to_timestamp(load_id_expr) -%}
    {{ return(adapter.dispatch('dlt_load_id_to_timestamp', 'customer_sync')(load_id_expr)) }}
{%- endmacro %}

{% macro default__dlt_load_id_to_timestamp(load_id_expr) -%}
    cast(timestamp '1970-01-01 00:00:00' + cast({{ load_id_expr }} as double precision) * interval '1 second'
        as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro postgres__dlt_load_id_to_timestamp(load_id_expr) -%}
    to_timestamp(cast({{ load_id_expr }} as double precision))
{%- endmacro %}


{#- Unix seconds (integer) as a timestamp with time zone. -#}
{% macro unix_seconds_to_timestamp(expr) -%}
    {{ return(adapter.dispatch('unix_seconds_to_timestamp', 'customer_sync')(expr)) }}
{%- endmacro %}

{% macro default__unix_seconds_to_timestamp(expr) -%}
    cast(timestamp '1970-01-01 00:00:00' + cast({{ expr }} as bigint) * interval '1 second' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro postgres__unix_seconds_to_timestamp(expr) -%}
    to_timestamp(cast({{ expr }} as bigint))
{%- endmacro %}


{#-
    A source timestamp (timestamp with time zone, or ISO 8601 text with an offset or Z) as a timestamp
    with time zone. Blank text is null. Naive values are read as UTC, the convention of every source here.
-#}
{% macro to_utc_timestamp(expr) -%}
    {{ return(adapter.dispatch('to_utc_timestamp', 'customer_sync')(expr)) }}
{%- endmacro %}

{% macro default__to_utc_timestamp(expr) -%}
    cast(nullif(trim(cast({{ expr }} as {{ dbt.type_string() }})), '') as timestamp)
{%- endmacro %}

{% macro postgres__to_utc_timestamp(expr) -%}
    cast(nullif(trim(cast({{ expr }} as text)), '') as timestamp with time zone)
{%- endmacro %}
