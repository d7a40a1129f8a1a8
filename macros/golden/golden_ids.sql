{#-
    A golden id candidate derived from a key only: 'G' followed by 10 digits taken from md5(key:salt).
    Deterministic, so the same new cluster gets the same id whatever the row order or build time;
    `salt` gives further candidates when a candidate is already taken.
-#}
{% macro golden_id_from_key(key_expr, salt) -%}
    {{ return(adapter.dispatch('golden_id_from_key', 'customer_sync')(key_expr, salt)) }}
{%- endmacro %}

{% macro default__golden_id_from_key(key_expr, salt) -%}
    'G' || lpad(
        ((('x' || substr(md5({{ key_expr }} || ':{{ salt }}'), 1, 15))::bit(60)::bigint) % 10000000000)::text,
        10,
        '0'
    )
{%- endmacro %}


{#- The build time of this dbt invocation as a timestamp literal (the same for every model of a run). -#}
{% macro build_timestamp() -%}
    '{{ run_started_at.isoformat() }}'::timestamp with time zone
{%- endmacro %}


{#- The canonical fields a golden record carries, each chosen by a survivorship rule. -#}
{% macro survivorship_fields() -%}
    {{ return([
        'first_name', 'last_name', 'full_name', 'email', 'phone', 'address_line1', 'address_line2', 'city',
        'postcode', 'region', 'country_code', 'birth_date', 'company_name', 'national_id',
    ]) }}
{%- endmacro %}


{#-
    Usage on the relation's schema for the reader roles. The marts schema gets it at bootstrap
    (customer_sync/db.py); schemas with a var('schema_prefix') (evaluations, tests) get it here.
    Models built in parallel would update the schema's privileges at once ("tuple concurrently updated"),
    so the grant waits for a transaction-scoped advisory lock first.
-#}
{% macro grant_schema_usage(relation, roles) -%}
    select pg_advisory_xact_lock(hashtext('customer_sync.grant_schema_usage'));
    grant usage on schema {{ relation.schema }} to {{ roles | join(', ') }}
{%- endmacro %}
