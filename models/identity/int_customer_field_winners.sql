{#-
    Survivorship: for every customer and canonical field, the value that wins and why.
    Candidates are the non-empty values of the customer's records; seeds/survivorship_rules.csv gives
    each field a rule and a source priority (systems separated by '>'):
      source_priority  the highest-priority system, then the most recent record;
      most_recent      the most recently updated record, then priority;
      most_complete    the record with the most filled parts of the field's group (the address lines,
                       city, postcode, region and country; the three names), then priority, then recency;
      valid_first      a value that passed staging's validity rule (email, phone), then priority, recency.
    Recency is when people last changed the record (int_customer_record_change_times): a write-back of
    the hub does not make a record the most recent. Ties end on record_id, so the choice never depends
    on row order. A steward override
    (seeds/steward_field_overrides.csv) wins over every rule, with rule 'steward_override'.

    Incremental per customer: a customer's rows are a function of its active records' rows (each one a
    function of its entered_hash, int_customer_records), when people last changed them, its steward
    overrides, the rules seed and this SQL. A build chooses again (replacing all their rows) for the
    customers of the rows a build wrote after the newest `chosen_at` here (when the last build that
    chose started): records entered again (int_customer_records' recorded_at), timed again
    (int_customer_record_change_times' timed_at) or given another golden id (int_customer_golden_ids'
    changed_at), each found by its stamp's index; and for every customer with a steward override, or
    whose built rows one chose. It deletes the rows of customers no longer active. `customer_hash`
    hashes the first three, for dim_customer. `chosen_by` fingerprints this SQL and everything upstream
    (macros/standardize/landed_changes.sql): when it differs, every customer is chosen again, as with
    --full-refresh. A changed customer's rows are all replaced by its new ones; a customer none of whose
    records has a value in any canonical field would have none (then neither a dim_customer row, which
    the relationships test from customer_xref reports; none of 109,627 customers at 100k persons).
-#}
{%- set fields = survivorship_fields() -%}
{%- set address_fields = ['address_line1', 'address_line2', 'city', 'postcode', 'region', 'country_code'] -%}
{%- set name_fields = ['first_name', 'last_name', 'full_name'] -%}

{#- the steps below read only this list beyond the model's own file (whose checksum the fingerprint has) -#}
{%- set fingerprint = model_fingerprint(fields | join(',')) %}
{%- set extending = built_with_same_fingerprint(fingerprint, 'chosen_at', 'chosen_by') %}
{%- set chosen_through = built_through('chosen_at') if extending else none %}
{#- a customer that stops being active has a golden id row stamped by that build (its tombstone): the
    customers no longer active are looked for among the rows stamped since this table's last build -#}
{{ changed_rows_config(
    ['customer_id'], 'int_customer_golden_ids', ['customer_id', 'field'], 'is_active', hash_joins_only=true,
    live_changed_since=['changed_at', 'chosen_at']
) }}
{#- the newest chosen_at (built_through), and the customers whose rows a steward override chose -#}
{{ config(post_hook=[
    "{{ create_matching_index(this, ['chosen_at']) }}",
    "{{ create_partial_index(this, 'steward_rows', ['customer_id'], ['field'], \"winning_rule = 'steward_override'\") }}"
]) }}

-- the imports are read in place (never materialized): the stamps' lookups use their indexes
with

records as not materialized (

    select * from {{ ref('int_customer_records') }}

),

golden_ids as not materialized (

    select * from {{ ref('int_customer_golden_ids') }}

),

rules as (

    select * from {{ ref('survivorship_rules') }}

),

-- read three times (hashes, overrides, the rule winners they replace): never materialized
overrides as not materialized (

    select * from {{ ref('int_customer_steward_overrides') }}

),

change_times as not materialized (

    select * from {{ ref('int_customer_record_change_times') }}

),

-- every active record with its customer and when people last changed it. Read twice (the hashes of
-- every customer, the rows of the changed ones) and not materialized: each use is planned on the tables
active_records as not materialized (

    select
        golden_ids.customer_id,
        records.*,
        change_times.last_changed_at
    from records
    inner join golden_ids
        on records.record_id = golden_ids.record_id
    left join change_times
        on records.record_id = change_times.record_id
    where golden_ids.is_active

),

{% if extending -%}
    -- the records a build wrote after this table last chose (its newest `chosen_at`): entered again,
    -- timed again, or given another customer or none; each found by the index on its stamp
    restamped_records as (
        {{ records_stamped_after(
            chosen_through, [('records', 'recorded_at'), ('change_times', 'timed_at'), ('golden_ids', 'changed_at')]
        ) }}
    ),

    -- the customers to choose again: those of the restamped records (now, and before their golden id
    -- changed), and every customer with a steward override, or whose built rows one chose (few: a
    -- removed override changes its customer's rows too)
    changed_customer_ids as (
        select golden_ids.customer_id
        from golden_ids
        where golden_ids.record_id in (select restamped_records.record_id from restamped_records)
        union all
        select golden_ids.previous_customer_id
        from golden_ids
        where golden_ids.changed_at > {{ chosen_through }}
        union all
        select overrides.customer_id
        from overrides
        union all
        select built.customer_id
        from {{ this }} as built
        where built.winning_rule = 'steward_override'
    ),

    changed_customers as (
        select distinct customer_id
        from changed_customer_ids
        where customer_id is not null
    ),
{%- endif %}

-- what each customer's rows are chosen from, per active record: its entered row's hash and when people
-- last changed it
record_inputs as (

    select
        active_records.customer_id,
        concat_ws(':', active_records.record_id, active_records.entered_hash, active_records.last_changed_at)
            as record_input
    from active_records
    {%- if extending %}
        inner join changed_customers on active_records.customer_id = changed_customers.customer_id
    {%- endif %}

),

record_hashes as (

    select
        customer_id,
        md5(string_agg(record_input, ',' order by record_input)) as records_hash
    from record_inputs
    group by customer_id

),

override_hashes as (

    select
        customer_id,
        md5(string_agg(cast(overrides as text), ',' order by field)) as overrides_hash
    from overrides
    group by customer_id

),

-- the customers chosen again in this build (every customer when the table is built whole), with the
-- hash of their inputs, which dim_customer reads
changed as materialized (

    select
        record_hashes.customer_id,
        cast(md5(concat_ws(':', record_hashes.records_hash, override_hashes.overrides_hash)) as uuid)
            as customer_hash
    from record_hashes
    left join override_hashes
        on record_hashes.customer_id = override_hashes.customer_id

),

-- the changed customers' records, kept apart (materialized) when the build extends the table: the
-- candidates below are then made from these few only. Inlined, the planner made every customer's
-- candidates before the join with the changed ones (6 s at 100k persons, for any number changed)
customer_records as {{ 'materialized' if extending else 'not materialized' }} (

    select
        active_records.*,
        -- recency as people changed the record: the hub's own write-backs do not make it newer
        coalesce(active_records.last_changed_at, active_records.source_updated_at) as changed_at,
        (
            {%- for column in address_fields %}
                (case when active_records.{{ column }} is not null then 1 else 0 end){{ ' +' if not loop.last }}
            {%- endfor %}
        ) as address_completeness,
        (
            {%- for column in name_fields %}
                (case when active_records.{{ column }} is not null then 1 else 0 end){{ ' +' if not loop.last }}
            {%- endfor %}
        ) as name_completeness
    from active_records
    inner join changed
        on active_records.customer_id = changed.customer_id

),

-- one row per record and filled field (one pass over the records)
candidates as (

    select
        customer_records.customer_id,
        customer_records.record_id,
        customer_records.source_system,
        customer_records.changed_at,
        field_values.field,
        field_values.field_value,
        field_values.is_valid,
        field_values.completeness
    from customer_records
    cross join
        lateral (
            values
            {% for field in fields %}
                (
                    '{{ field }}',
                    nullif(trim(customer_records.{{ field }}::text), ''),
                    {% if field == 'email' -%}
                        coalesce(customer_records.is_email_valid, false)
                    {%- elif field == 'phone' -%}
                        coalesce(customer_records.is_phone_valid, false)
                    {%- else -%}
                        true
                    {%- endif %},
                    {% if field in address_fields -%}
                        customer_records.address_completeness
                    {%- elif field in name_fields -%}
                        customer_records.name_completeness
                    {%- else -%}
                        1
                    {%- endif %}
                ){% if not loop.last %},{% endif %}
            {% endfor %}
        ) as field_values (field, field_value, is_valid, completeness)
    where field_values.field_value is not null

),

ruled_candidates as (

    -- each candidate with its field's rule and the rank of its system in the field's priority
    select
        candidates.*,
        rules.rule as winning_rule,
        coalesce(
            nullif(position('>' || candidates.source_system || '>' in '>' || rules.source_priority || '>'), 0),
            1000000
        ) as source_rank
    from candidates
    inner join rules on candidates.field = rules.field

),

ranked as (

    select
        customer_id,
        field,
        field_value,
        record_id as source_record_id,
        winning_rule,
        row_number() over (
            partition by customer_id, field
            order by
                case when winning_rule = 'valid_first' and not is_valid then 1 else 0 end asc,
                case when winning_rule = 'most_complete' then completeness else 0 end desc,
                case when winning_rule = 'most_recent' then changed_at end desc nulls last,
                source_rank asc,
                changed_at desc nulls last,
                record_id asc
        ) as candidate_rank
    from ruled_candidates

),

rule_winners as (

    select
        customer_id,
        field,
        field_value,
        source_record_id,
        winning_rule
    from ranked
    where candidate_rank = 1

),

final as (

    select
        overrides.customer_id,
        overrides.field,
        overrides.value as field_value,
        'steward:' || coalesce(overrides.decided_by, 'unknown') as source_record_id,
        'steward_override' as winning_rule
    from overrides
    inner join changed on overrides.customer_id = changed.customer_id
    where overrides.is_applied
    union all
    select rule_winners.*
    from rule_winners
    left join overrides
        on
            rule_winners.customer_id = overrides.customer_id
            and rule_winners.field = overrides.field
            and overrides.is_applied
    where overrides.customer_id is null

),

with_hash as (

    select
        final.*,
        changed.customer_hash,
        {{ fingerprint_value(fingerprint) }} as chosen_by,
        -- when the build that chose started: the next one chooses again for the customers of the rows
        -- stamped after the newest of these
        {{ build_timestamp() }} as chosen_at
    from final
    inner join changed on final.customer_id = changed.customer_id

)

select * from with_hash
