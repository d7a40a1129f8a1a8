{#-
    Every candidate pair scored: per comparison its level and match weight, and the total match weight
    (prior + the sum of the level weights + the name frequency adjustment; a missing value adds nothing)
    with its match probability.

    Incremental: a pair's score is a function of its comparison, the match parameters, and the count of
    its shared name (int_customer_name_frequencies; the typical count and the prior are kept from
    training). So a build scores again the pairs compared again (a `paired_at` after the newest here,
    as int_customer_pair_comparisons takes them from the pairs) and the pairs that share a name counted
    since its last build (`scored_at`), and deletes the scores of pairs no longer candidates, found by
    their records as the comparisons' are (delete_comparisons_of_pairs_gone). `scored_by` fingerprints
    this SQL and everything upstream of it, the comparisons' own fingerprint (their SQL's macros) and
    every match parameter: when any differs (trained again, say), every pair is scored again.
-#}
{%- set comparisons = matching_comparisons() -%}
{%- set key_columns = ['record_id_l', 'record_id_r'] -%}
{#- what the SQL below renders from outside this file (macros, vars), for the fingerprint; the file
    itself is in it (model_fingerprint) -#}
{%- set scoring_macros = (comparisons | join(',')) ~ '#' ~ name_frequency_weight('ratioed') -%}
{#- what the scores read besides the rows: the comparisons' fingerprint (every row has the same) and
    every match parameter, as built in this build (none when compiled before they were built) -#}
{%- set scored_inputs = [] -%}
{%- if execute and this is not none -%}
    {%- set comparisons_relation = ref('int_customer_pair_comparisons') -%}
    {%- if adapter.get_relation(
        database=comparisons_relation.database, schema=comparisons_relation.schema,
        identifier=comparisons_relation.identifier
    ) is not none -%}
        {%- do scored_inputs.append(run_query(
            "select max(compared_by) from (select compared_by from " ~ comparisons_relation
            ~ " limit 1) as one_row"
        ).columns[0].values()[0] or '') -%}
    {%- endif -%}
    {%- do scored_inputs.append(relation_rows_text(ref('int_customer_match_parameters')) or '') -%}
{%- endif -%}
{%- set fingerprint = local_md5(model_fingerprint(scoring_macros) ~ '#' ~ (scored_inputs | join('#'))) -%}
{#- every pair compared since the last build (after a rebuild upstream, say): all scored as when built whole -#}
{%- set extending = built_with_same_fingerprint(fingerprint, 'paired_at', 'scored_by')
    and not takes_every_row(ref('int_customer_pair_comparisons'), 'paired_at') -%}
{{ changed_rows_config(key_columns, 'int_customer_pair_comparisons', built_covers_live=true) }}
{#- statistics on what its readers filter and join on (macros/analyze_after_build.sql): int_customer_matches
    keeps the pairs above the threshold and meets the stewards' pairs by their records. The newest
    pair scored and the newest build that scored (built_through) are read from indexes. The scores of
    the pairs gone are deleted first, found by their records (through the unique key's index and the
    one on record_id_r) -#}
{{ config(
    meta={'analyze_columns': ['record_id_l', 'record_id_r', 'entity_type', 'match_probability']},
    pre_hook=[
        "{{ delete_comparisons_of_pairs_gone(ref('int_customer_pairs'), ref('int_customer_blocking_keys'),"
        ~ " ref('int_customer_oversized_blocks'), ref('int_customer_records')) }}"
    ],
    post_hook=[
        "{{ create_matching_index(this, ['paired_at']) }}",
        "{{ create_matching_index(this, ['scored_at']) }}",
        "{{ create_matching_index(this, ['record_id_r']) }}"
    ]
) }}

with

comparisons as (

    select * from {{ ref('int_customer_pair_comparisons') }}

),

-- read in place at each of its joins (not materialized): the scan of a materialized CTE would keep the
-- whole query in one process, where parallel workers can score the pairs
parameters as not materialized (

    select * from {{ ref('int_customer_match_parameters') }}

),

name_frequencies as (

    select * from {{ ref('int_customer_name_frequencies') }}

),

priors as (

    select distinct
        entity_type,
        prior_match_weight,
        records_with_name_typical
    from parameters

),

-- the pairs to score: compared again since the newest pair scored, or sharing a name whose count
-- moved since the last build that scored (every pair when the table is built whole). Both are read
-- through the comparisons' indexes (on paired_at, and on the shared name: the names as one array); a
-- name counted again in one entity type scores again its pairs in the others too, which keep their
-- score
changed as {{ 'materialized' if extending else 'not materialized' }} (

    select comparisons.*
    from comparisons
    {%- if extending %}
    where
        comparisons.paired_at > {{ built_through('paired_at') }}
        or comparisons.shared_name_tokens = any(array(
            select distinct recounted.name_tokens_sorted
            from name_frequencies as recounted
            where recounted.counted_at > {{ built_through('scored_at') }}
        ))
    {%- endif %}

),

-- for two records with the same name: how much rarer the name is than a typical one (above 1 for a
-- rare name, below 1 for a common one); null otherwise
with_name_frequency_ratios as (

    select
        changed.*,
        priors.prior_match_weight,
        priors.records_with_name_typical / name_frequencies.records_with_name as name_frequency_ratio
    from changed
    inner join priors
        on changed.entity_type = priors.entity_type
    left join name_frequencies
        on
            changed.entity_type = name_frequencies.entity_type
            and changed.shared_name_tokens = name_frequencies.name_tokens_sorted

),

weighted as (

    select
        ratioed.record_id_l,
        ratioed.record_id_r,
        ratioed.entity_type,
        ratioed.blocking_rules,
        ratioed.is_name_swapped,
        {% for comparison in comparisons %}
            ratioed.{{ comparison }}_level,
            coalesce(weight_{{ comparison }}.match_weight, 0) as {{ comparison }}_weight,
        {% endfor %}
        {{ name_frequency_weight('ratioed') }} as name_frequency_weight,
        ratioed.prior_match_weight,
        ratioed.paired_at
    from with_name_frequency_ratios as ratioed
    {% for comparison in comparisons %}
        left join parameters as weight_{{ comparison }}
            on
                ratioed.entity_type = weight_{{ comparison }}.entity_type
                and weight_{{ comparison }}.comparison = '{{ comparison }}'
                and ratioed.{{ comparison }}_level = weight_{{ comparison }}.comparison_level
    {% endfor %}

),

summed as (

    select
        *,
        prior_match_weight
        {% for comparison in comparisons %}+ {{ comparison }}_weight
        {% endfor %}+ name_frequency_weight as match_weight
    from weighted

),

final as (

    select
        *,
        1 / (1 + power(2::double precision, -least(greatest(match_weight, -60), 60))) as match_probability,
        {{ fingerprint_value(fingerprint) }} as scored_by,
        {{ build_timestamp() }} as scored_at
    from summed

)

select * from final
