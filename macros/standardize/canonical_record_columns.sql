{#-
    The columns of the canonical record (docs/contracts.md §4) in contract order, as a list, for models
    that build their column lists from it (int_customer_entered_records, int_customer_records).
-#}
{% macro canonical_record_column_names() -%}
    {{ return([
        'record_id', 'source_system', 'source_table', 'source_record_id', 'entity_type',
        'first_name', 'last_name', 'full_name', 'email', 'is_email_valid', 'phone', 'is_phone_valid',
        'company_name', 'address_line1', 'address_line2', 'city', 'postcode', 'region', 'country_code',
        'birth_date', 'national_id', 'golden_id_in_source', 'is_deleted',
        'source_created_at', 'source_updated_at', 'loaded_at',
    ]) }}
{%- endmacro %}


{#-
    The same columns comma-separated one a line, for the stg_ models that select them from their base
    model.
-#}
{% macro canonical_record_columns() -%}
    {{ canonical_record_column_names() | join(',\n    ') }}
{%- endmacro %}
