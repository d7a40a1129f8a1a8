{#-
    Phone numbers to E.164. The record's country supplies the calling code, the trunk prefix and the
    lengths a national number may have (all from ref_country_codes); the country of a number written
    internationally comes from its own calling code.
-#}

{#- The phone text without an extension ("x12", "ext. 12", "extension 12", "#12" at the end). -#}
{% macro phone_without_extension(expr) -%}
    {{ regex_replace_all("lower(" ~ expr ~ ")", "'[[:space:],;]*(extension|ext|x|#)[.:[:space:]]*[0-9]+[[:space:]]*$'", "''") }}
{%- endmacro %}


{#- The digits dialled: the phone text without extension, a "(0)" trunk hint dropped, digits only. -#}
{% macro phone_dialled_digits(no_extension_expr) -%}
    {{ regex_replace_all(regex_replace_all(no_extension_expr, "'\\(0\\)'", "''"), "'[^0-9]'", "''") }}
{%- endmacro %}


{#- Whether the phone text (without extension) is written internationally: a + before its first digit. -#}
{% macro phone_is_international(no_extension_expr) -%}
    {{ regex_matches(no_extension_expr, "'^[^0-9]*\\+'") }}
{%- endmacro %}


{#-
    The digits of an international phone number (calling code + national number, no +) or null when
    the number cannot be placed: "+44 (0)20 ..." and "0044 20 ..." are international already; otherwise
    the number is national in the record's country, its trunk prefix (0 in most countries, 1 in North
    America) dropped when what remains has a valid length, and the country's calling code put in front.
    `digits_expr` (phone_dialled_digits) and `is_international_expr` (phone_is_international) are
    columns computed from the phone text without its extension (phone_without_extension).
-#}
{% macro phone_international_digits(digits_expr, is_international_expr, calling_code, trunk_prefix, national_lengths) -%}
    case
        when {{ is_international_expr }} then nullif({{ digits_expr }}, '')
        when {{ digits_expr }} like '00%' then nullif(substr({{ digits_expr }}, 3), '')
        when {{ calling_code }} = '1' and {{ digits_expr }} like '011%' then nullif(substr({{ digits_expr }}, 4), '')
        when {{ calling_code }} is null or {{ digits_expr }} = '' then null
        when coalesce({{ trunk_prefix }}, '') <> ''
            and {{ digits_expr }} like {{ trunk_prefix }} || '%'
            and {{ is_length_in_list('substr(' ~ digits_expr ~ ', length(' ~ trunk_prefix ~ ') + 1)', national_lengths) }}
            then {{ calling_code }} || substr({{ digits_expr }}, length({{ trunk_prefix }}) + 1)
        else {{ calling_code }} || {{ digits_expr }}
    end
{%- endmacro %}


{#- Whether the length of `expr` is one of the '|'-separated lengths in `lengths` (e.g. '9|10'). -#}
{% macro is_length_in_list(expr, lengths) -%}
    ('|' || {{ lengths }} || '|' like '%|' || cast(length({{ expr }}) as {{ dbt.type_string() }}) || '|%')
{%- endmacro %}


{#-
    Whether international digits form a valid E.164 number: at most 15 digits, and the national number
    after the calling code (`calling_code`, found for these digits) has a length its country allows.
-#}
{% macro is_valid_phone_number(international_digits, calling_code, national_lengths) -%}
    case
        when {{ international_digits }} is null then null
        when {{ calling_code }} is null then false
        else length({{ international_digits }}) <= 15
            and {{ is_length_in_list('substr(' ~ international_digits ~ ', length(' ~ calling_code ~ ') + 1)', national_lengths) }}
    end
{%- endmacro %}
