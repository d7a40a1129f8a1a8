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

with

{% if not train -%}
-- the parameters as the build that estimated them left them; the estimating CTEs below are then not
-- referenced, and Postgres does not run them
trained as (

    select * from {{ this }}

),
{%- endif %}

-- only the columns the comparisons read. Not materialized: the hash order reads two of them from the
-- table, and the sampled pairs join the others in place (sorting the wide rows spilled to disk)
records as not materialized (

    select
        {{ matching_record_columns() | join(',\n        ') }}
    from {{ ref('int_customer_records') }}

),

parameters as (

    select * from {{ ref('match_parameters') }}

),

-- the hash order of the record ids alone: the wide columns are joined to the sampled pairs only
hash_ordered as (

    select
        record_id,
        entity_type,
        row_number() over (partition by entity_type order by md5(record_id)) as hash_rank
    from records

),

hash_steps as (

    select step_no
    from generate_series(1, {{ var('u_offsets', 40) }}) as steps (step_no)

),

-- a pair reaches at most var('u_offsets') places past the last sampled record: only these records are
-- kept (filtering on the row number lets the window stop there), not the whole hash order
reachable_records as (

    select * from hash_ordered
    where hash_rank <= {{ var('u_sample_records', 5000) }} + {{ var('u_offsets', 40) }}

),

sample_pairs as (

    select
        l.record_id as record_id_l,
        r.record_id as record_id_r
    from reachable_records as l
    cross join hash_steps
    inner join reachable_records as r
        on
            l.entity_type = r.entity_type
            and r.hash_rank = l.hash_rank + hash_steps.step_no
    where l.hash_rank <= {{ var('u_sample_records', 5000) }}

),

random_pairs as (

    select
        {{ paired_record_columns('l', 'r') }}
    from sample_pairs
    inner join records as l on sample_pairs.record_id_l = l.record_id
    inner join records as r on sample_pairs.record_id_r = r.record_id

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

entity_types as (

    select distinct entity_type from records

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
