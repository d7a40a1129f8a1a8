{#-
    Regular-expression primitives. Every other standardization macro uses these, so they are the only
    place where the regex dialect of the warehouse matters. Patterns are SQL expressions (usually quoted
    literals) in POSIX syntax; callers lower- or upper-case their input instead of relying on flags.
-#}

{#- True when `expr` matches `pattern` anywhere (anchor the pattern for a full match). -#}
{% macro regex_matches(expr, pattern) -%}
    {{ return(adapter.dispatch('regex_matches', 'customer_sync')(expr, pattern)) }}
{%- endmacro %}

{% macro default__regex_matches(expr, pattern) -%}
    regexp_like({{ expr }}, {{ pattern }})
{%- endmacro %}

{% macro postgres__regex_matches(expr, pattern) -%}
    ({{ expr }} ~ {{ pattern }})
{%- endmacro %}


{#- Every match of `pattern` in `expr` replaced by `replacement` (\1 .. \9 refer to groups). -#}
{% macro regex_replace_all(expr, pattern, replacement) -%}
    {{ return(adapter.dispatch('regex_replace_all', 'customer_sync')(expr, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regex_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, {{ pattern }}, {{ replacement }})
{%- endmacro %}

{% macro postgres__regex_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, {{ pattern }}, {{ replacement }}, 'g')
{%- endmacro %}


{#- The text of capture group `group` of the first match of `pattern`, or null when it does not match. -#}
{% macro regex_capture(expr, pattern, group=1) -%}
    {{ return(adapter.dispatch('regex_capture', 'customer_sync')(expr, pattern, group)) }}
{%- endmacro %}

{% macro default__regex_capture(expr, pattern, group) -%}
    regexp_substr({{ expr }}, {{ pattern }}, 1, 1, 'e', {{ group }})
{%- endmacro %}

{% macro postgres__regex_capture(expr, pattern, group) -%}
    (regexp_match({{ expr }}, {{ pattern }}))[{{ group }}]
{%- endmacro %}
