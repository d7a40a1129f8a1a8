{#-
    Dates typed in many ways, to a date; anything else (or an impossible date such as 2023-02-30) is null.
    Formats: ISO 2024-01-31 (with or without a time), 2024/01/31, 20240131, day-month-year or
    month-day-year with / . or - (a part above 12 decides; otherwise `date_order` 'mdy' of the record's
    country reads month first, every other order day first), "4 July 1965", "July 4, 1965", and epoch
    milliseconds ("1572480000000", HubSpot's date properties). One step per macro, each fed a column
    holding the previous step (standardized_customer_record_ctes): raw text -> normalize_date_text ->
    date_text_to_ymd -> ymd_part (year, month, day) -> calendar_date.
-#}

{#- The date text as the parser reads it: trimmed, lower case. -#}
{% macro normalize_date_text(expr) -%}
    lower(trim({{ expr }}))
{%- endmacro %}


{#- Whether a non-blank raw date failed to parse. -#}
{% macro is_unparseable_date(raw_expr, parsed_expr) -%}
    (nullif(trim({{ raw_expr }}), '') is not null and {{ parsed_expr }} is null)
{%- endmacro %}


{#-
    The date text rewritten to 'y-m-d' (numbers, not zero-padded), or null when no format fits.
    `text_expr` is a column holding normalize_date_text of the raw date.
-#}
{% macro date_text_to_ymd(text_expr, date_order="'dmy'") -%}
    {%- set s = text_expr -%}
    {%- set dmy = "'^([0-9]{1,2})[./-]([0-9]{1,2})[./-]([0-9]{4})$'" -%}
    {%- set months = "'janfebmaraprmayjunjulaugsepoctnovdec'" -%}
    case
        when {{ regex_matches(s, "'^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([t ].*)?$'") }}
            then {{ regex_replace_all(s, "'^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2}).*$'", "'\\1-\\2-\\3'") }}
        when {{ regex_matches(s, "'^[0-9]{4}[/.][0-9]{1,2}[/.][0-9]{1,2}$'") }}
            then {{ regex_replace_all(s, "'[/.]'", "'-'") }}
        when {{ regex_matches(s, "'^[0-9]{8}$'") }}
            then substr({{ s }}, 1, 4) || '-' || substr({{ s }}, 5, 2) || '-' || substr({{ s }}, 7, 2)
        when {{ regex_matches(s, dmy) }} then
            case
                when cast({{ regex_capture(s, dmy, 1) }} as integer) > 12
                    or (cast({{ regex_capture(s, dmy, 2) }} as integer) <= 12 and coalesce({{ date_order }}, 'dmy') <> 'mdy')
                    then {{ regex_replace_all(s, dmy, "'\\3-\\2-\\1'") }}
                else {{ regex_replace_all(s, dmy, "'\\3-\\1-\\2'") }}
            end
        when {{ regex_matches(s, "'^-?[0-9]{9,13}$'") }}
            then {{ epoch_ms_to_ymd(s) }}
        when {{ regex_matches(s, "'^[0-9]{1,2}(st|nd|rd|th)?[[:space:].-]+[a-z]{3}[a-z]*\\.?,?[[:space:]-]+[0-9]{4}$'") }}
            and mod(strpos({{ months }}, substr({{ regex_capture(s, "'([a-z]{3})'") }}, 1, 3)), 3) = 1
            then {{ regex_capture(s, "'([0-9]{4})$'") }}
                || '-' || cast((strpos({{ months }}, {{ regex_capture(s, "'([a-z]{3})'") }}) + 2) / 3 as {{ dbt.type_string() }})
                || '-' || {{ regex_capture(s, "'^([0-9]{1,2})'") }}
        when {{ regex_matches(s, "'^[a-z]{3}[a-z]*\\.?[[:space:]]+[0-9]{1,2}(st|nd|rd|th)?,?[[:space:]]+[0-9]{4}$'") }}
            and mod(strpos({{ months }}, substr({{ s }}, 1, 3)), 3) = 1
            then {{ regex_capture(s, "'([0-9]{4})$'") }}
                || '-' || cast((strpos({{ months }}, substr({{ s }}, 1, 3)) + 2) / 3 as {{ dbt.type_string() }})
                || '-' || {{ regex_capture(s, "'[[:space:]]([0-9]{1,2})'") }}
    end
{%- endmacro %}


{#- Epoch milliseconds (text) as 'y-m-d' of the UTC day. -#}
{% macro epoch_ms_to_ymd(expr) -%}
    {{ return(adapter.dispatch('epoch_ms_to_ymd', 'customer_sync')(expr)) }}
{%- endmacro %}

{% macro default__epoch_ms_to_ymd(expr) -%}
    cast(cast(timestamp '1970-01-01 00:00:00' + cast({{ expr }} as bigint) / 1000 * interval '1 second' as date)
        as {{ dbt.type_string() }})
{%- endmacro %}

{% macro postgres__epoch_ms_to_ymd(expr) -%}
    to_char(date '1970-01-01' + cast(floor(cast({{ expr }} as bigint) / 86400000.0) as integer), 'YYYY-MM-DD')
{%- endmacro %}


{#- One part of a 'y-m-d' text as an integer: 1 the year, 2 the month, 3 the day. -#}
{% macro ymd_part(ymd_expr, part) -%}
    cast(split_part({{ ymd_expr }}, '-', {{ part }}) as integer)
{%- endmacro %}


{#-
    The date of a year, month and day (integer columns, from ymd_part) when they name a real calendar
    day (leap years included), else null.
-#}
{% macro calendar_date(year_expr, month_expr, day_expr) -%}
    {%- set y = year_expr -%}
    {%- set m = month_expr -%}
    {%- set d = day_expr -%}
    case
        when {{ y }} is null or {{ m }} is null or {{ d }} is null then null
        when {{ m }} not between 1 and 12 or {{ d }} < 1 or {{ y }} < 1 then null
        when {{ d }} > case
            when {{ m }} in (4, 6, 9, 11) then 30
            when {{ m }} = 2 and (mod({{ y }}, 400) = 0 or (mod({{ y }}, 4) = 0 and mod({{ y }}, 100) <> 0)) then 29
            when {{ m }} = 2 then 28
            else 31
        end then null
        else cast(
            lpad(cast({{ y }} as {{ dbt.type_string() }}), 4, '0') || '-'
            || lpad(cast({{ m }} as {{ dbt.type_string() }}), 2, '0') || '-'
            || lpad(cast({{ d }} as {{ dbt.type_string() }}), 2, '0')
            as date)
    end
{%- endmacro %}
