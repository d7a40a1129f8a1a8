{#-
    u probabilities: how often each comparison level occurs among pairs of records that are NOT the same
    customer, estimated on pseudo-random pairs (almost all random pairs are non-matches). Records are put
    in a hash order per entity type and each of the first var('u_sample_records') records is paired with
    the records var('u_offsets') places after it, so the sample costs sample x offsets comparisons.
    Levels never seen get one pseudo-count; seeds/match_parameters.csv may override any u.
-#}
{%- set comparisons = matching_comparisons() -%}
{#- estimated once, then kept: see macros/matching/training.sql -#}
{%- set fingerprint = match_training_fingerprint(
    ['int_customer_records', 'int_customer_u_probabilities'],
    [var('u_sample_records', 5000), var('u_offsets', 40)]
) -%}
{%- set train = match_parameters_need_training(fingerprint) %}
{#- hash joins only: the sample's CTEs carry no statistics, and Postgres guessed merge joins that sorted
    the 400,000 sampled pairs three times, wide rows included (1.3 s more at 100k persons) -#}
{{ config(pre_hook="set local enable_mergejoin = off") }}

with

{% if not train -%}
-- the parameters as the build that estimated them left them; the estimating CTEs below are then not
-- referenced, and Postgres does not run them
trained as (

    select * from {{ this }}

),
{%- endif %}

-- only the columns the comparisons read. Not materialized: the sample's records are found in it by id
records as not materialized (

    select
        {{ matching_record_columns() | join(',\n        ') }}
    from {{ ref('int_customer_records') }}

),

parameters as (

    select * from {{ ref('match_parameters') }}

),

entity_types as (

    select distinct entity_type from records

),

-- per entity type, the records a sampled pair can reach: the first var('u_sample_records') records in
-- hash order and the var('u_offsets') after them. Each type's are its first ones by md5(record_id), a
-- bounded sort of the ids alone (the hash order of every record sorted them all)
reachable_records as materialized (

    select
        firsts.record_id,
        firsts.entity_type,
        row_number() over (partition by firsts.entity_type order by firsts.record_hash) as hash_rank
    from entity_types
    cross join lateral (
        select
            records.record_id,
            records.entity_type,
            md5(records.record_id) as record_hash
        from records
        where records.entity_type = entity_types.entity_type
        order by record_hash
        limit {{ var('u_sample_records', 5000) }} + {{ var('u_offsets', 40) }}
    ) as firsts

),

hash_steps as (

    select step_no
    from generate_series(1, {{ var('u_offsets', 40) }}) as steps (step_no)

),

-- each sampled record with the hash rank of every record it is paired with. Materialized: the join
-- below then meets them by entity type and rank together (otherwise Postgres may join the sampled
-- records with the reachable ones by entity type alone, and filter the ranks after)
reaching as materialized (

    select
        reachable_records.record_id,
        reachable_records.entity_type,
        reachable_records.hash_rank + hash_steps.step_no as partner_rank
    from reachable_records
    cross join hash_steps
    where reachable_records.hash_rank <= {{ var('u_sample_records', 5000) }}

),

sample_pairs as (

    select
        reaching.record_id as record_id_l,
        partner.record_id as record_id_r
    from reaching
    inner join reachable_records as partner
        on
            reaching.entity_type = partner.entity_type
            and reaching.partner_rank = partner.hash_rank

),

-- the wide columns of the reachable records only, found by the records' index; the pairs join them
-- twice, where joining the whole table hashed every record's row twice
reachable_rows as materialized (

    select records.*
    from records
    where records.record_id in (select reachable_records.record_id from reachable_records)

),

random_pairs as (

    select
        {{ paired_record_columns('l', 'r') }}
    from sample_pairs
    inner join reachable_rows as l on sample_pairs.record_id_l = l.record_id
    inner join reachable_rows as r on sample_pairs.record_id_r = r.record_id

),

compared as (

    select
        entity_type_l as entity_type,
        {{ comparison_levels() }}
    from random_pairs

),

level_counts as (

    {% for comparison in comparisons %}
        select
            entity_type,
            '{{ comparison }}' as comparison,
            {{ comparison }}_level as comparison_level,
            count(*) as pair_count
        from compared
        where {{ comparison }}_level is not null
        group by entity_type, {{ comparison }}_level
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

-- every level of the seed for every entity type, so that unseen levels still get a u
all_levels as (

    select
        entity_types.entity_type,
        parameters.comparison,
        parameters.level as comparison_level,
        parameters.u_override
    from entity_types
    cross join parameters

),

smoothed as (

    select
        all_levels.entity_type,
        all_levels.comparison,
        all_levels.comparison_level,
        all_levels.u_override,
        coalesce(level_counts.pair_count, 0) as sampled_pair_count,
        (coalesce(level_counts.pair_count, 0) + 1.0)
        / (
            sum(coalesce(level_counts.pair_count, 0)) over (partition by all_levels.entity_type, all_levels.comparison)
            + count(*) over (partition by all_levels.entity_type, all_levels.comparison)
        ) as estimated_u
    from all_levels
    left join level_counts
        on
            all_levels.entity_type = level_counts.entity_type
            and all_levels.comparison = level_counts.comparison
            and all_levels.comparison_level = level_counts.comparison_level

),

final as (

    select
        entity_type,
        comparison,
        comparison_level,
        sampled_pair_count,
        coalesce(u_override, estimated_u)::double precision as u_probability,
        case when u_override is not null then 'seed_override' else 'random_pairs' end as u_source,
        {{ match_training_columns(fingerprint, 'records') }}
    from smoothed

)

select * from {{ 'final' if train else 'trained' }}
