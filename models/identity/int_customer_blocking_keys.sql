{#-
    One row per record and blocking rule: records that share a key become candidate pairs.
    Each rule is a cheap exact key; together they catch pairs that differ in any one field, and the
    fuzzy rules (initials, name prefixes, sound) survive a typo in a name. A key shared by more than
    var('max_block_size') records is oversized and pairs none (int_customer_oversized_blocks).

    Incremental: a record's keys are a function of its row in int_customer_records, which a build writes
    again only when its entered row changed (stamped `recorded_at`, indexed, kept here). A build keys
    only the records written after the newest `recorded_at` here (stamped `keyed_at`, which
    int_customer_pairs reads to pair only them again) and deletes the keys of records that are gone;
    every record again when this SQL or anything
    upstream of it changed (`blocked_by`, macros/standardize/landed_changes.sql), or with --full-refresh.
-#}
{%- set blocking_rules = blocking_rule_keys() -%}
{%- set rule_names = "array['" ~ (blocking_rules.keys() | join("', '")) ~ "']" -%}
{%- set rule_keys = 'array[' ~ (blocking_rules.values() | join(', ')) ~ ']' -%}
{%- set keying_steps -%}

-- every rule's key of a record from one read of its row (a union of one select per rule read the
-- records once per rule): the rules and their keys are two arrays unnested side by side
keys as (

    select
        record_id,
        entity_type,
        unnest({{ rule_names }}) as blocking_rule,
        unnest({{ rule_keys }}) as blocking_key,
        entered_hash,
        recorded_at
    from changed

),

present_keys as (

    select * from keys
    where blocking_key is not null

)
{%- endset -%}
{%- set fingerprint = model_fingerprint(keying_steps) -%}
{{ changed_rows_config(['record_id'], 'int_customer_records', ['record_id', 'blocking_rule']) }}

with

records as (

    select * from {{ ref('int_customer_records') }}

),

{{ changed_rows_cte(
    'records', fingerprint, ['record_id'], 'entered_hash', 'blocked_by', since_column='recorded_at',
    since_relation=ref('int_customer_records')
) }}

{{ keying_steps }},

final as (

    select
        record_id,
        entity_type,
        blocking_rule,
        blocking_key,
        entered_hash,
        recorded_at,
        now() as keyed_at,
        {{ fingerprint_value(fingerprint) }} as blocked_by
    from present_keys

)

select * from final
