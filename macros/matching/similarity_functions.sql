{#-
    The fuzzy measures that need a loop (similarity.sql), as PL/pgSQL functions: plpgsql is part of
    every Postgres (no extension). Written inline as SQL, each needed a correlated subquery, and
    Postgres runs an expression with a correlated subquery in the leader process only: the comparisons
    of every pair (candidates and the u sample's random pairs) then took one core. A function marked
    `parallel safe` lets the pairs be compared by parallel workers, and a loop over a dozen characters
    costs less than a subquery's executor start.

    The functions live in the identity schema and are created by the project's on-run-start hook
    (`create_similarity_functions`), each only when it is missing or its body differs, so that a run
    does not write the catalog (and two runs do not race) once they are in place. Each is `immutable
    strict`: null when either argument is null, like the macros that call it.

    A model's fingerprint holds the definition of every function its SQL calls
    (`similarity_function_definitions`), so that a changed body recomputes what it measured.
-#}

{#- The schema that holds the functions: the identity layer's (with `var('schema_prefix')`). -#}
{% macro similarity_function_schema() -%}
    {{ return(generate_schema_name('identity', none) | trim) }}
{%- endmacro %}


{#- The schema-qualified name of a similarity function, to call it with. -#}
{% macro similarity_function(name) -%}
    "{{ similarity_function_schema() }}".{{ name }}
{%- endmacro %}


{#- name -> (arguments, return type, body) of every function. -#}
{% macro similarity_function_specs() -%}

{#- Damerau distance at most one. With m the shorter length, P the common prefix and S the common
    suffix (at most m - P): lengths one apart are one insertion apart when P + S = m; equal lengths one
    substitution apart when P + S >= m - 1, or one transposition apart when P + S = m - 2 and the two
    characters after the prefix are swapped. -#}
{%- set within_one_edit -%}
declare
    left_length integer := length(left_text);
    right_length integer := length(right_text);
    shorter integer := least(left_length, right_length);
    prefix integer := 0;
    suffix integer := 0;
begin
    if left_text = right_text then
        return true;
    end if;
    if abs(left_length - right_length) > 1 then
        return false;
    end if;
    while prefix < shorter and substr(left_text, prefix + 1, 1) = substr(right_text, prefix + 1, 1) loop
        prefix := prefix + 1;
    end loop;
    while suffix < shorter - prefix
        and substr(left_text, left_length - suffix, 1) = substr(right_text, right_length - suffix, 1) loop
        suffix := suffix + 1;
    end loop;
    if left_length <> right_length then
        return prefix + suffix >= shorter;
    end if;
    return prefix + suffix >= shorter - 1
        or (
            prefix + suffix = shorter - 2
            and substr(left_text, prefix + 1, 1) = substr(right_text, prefix + 2, 1)
            and substr(left_text, prefix + 2, 1) = substr(right_text, prefix + 1, 1)
        );
end
{%- endset -%}

{#- Shared grams over all grams of two gram sets (arrays without repeats). -#}
{%- set grams_jaccard -%}
declare
    gram text;
    shared integer := 0;
begin
    foreach gram in array left_grams loop
        if gram = any(right_grams) then
            shared := shared + 1;
        end if;
    end loop;
    return coalesce(shared * 1.0 / nullif(cardinality(left_grams) + cardinality(right_grams) - shared, 0), 0.0);
end
{%- endset -%}

{#- grams_jaccard of the n-gram sets of two strings, each padded with one space on both sides. -#}
{%- set ngram_jaccard -%}
declare
    left_padded text := ' ' || left_text || ' ';
    right_padded text := ' ' || right_text || ' ';
    left_grams text[] := '{}';
    right_grams text[] := '{}';
    gram text;
    shared integer := 0;
begin
    for position_no in 1 .. length(left_text) + 3 - gram_length loop
        gram := substr(left_padded, position_no, gram_length);
        if not (gram = any(left_grams)) then
            left_grams := left_grams || gram;
        end if;
    end loop;
    for position_no in 1 .. length(right_text) + 3 - gram_length loop
        gram := substr(right_padded, position_no, gram_length);
        if not (gram = any(right_grams)) then
            right_grams := right_grams || gram;
            if gram = any(left_grams) then
                shared := shared + 1;
            end if;
        end if;
    end loop;
    return coalesce(shared * 1.0 / nullif(cardinality(left_grams) + cardinality(right_grams) - shared, 0), 0.0);
end
{%- endset -%}

{#- Shared words over all words of two space-separated strings (empty words left out); 0.0 without words. -#}
{%- set token_jaccard -%}
declare
    left_tokens text[] := string_to_array(left_text, ' ');
    right_tokens text[] := string_to_array(right_text, ' ');
    seen text[] := '{}';
    token text;
    shared integer := 0;
begin
    foreach token in array left_tokens loop
        if token <> '' and not (token = any(seen)) then
            seen := seen || token;
            if token = any(right_tokens) then
                shared := shared + 1;
            end if;
        end if;
    end loop;
    foreach token in array right_tokens loop
        if token <> '' and not (token = any(seen)) then
            seen := seen || token;
        end if;
    end loop;
    if cardinality(seen) = 0 then
        return 0.0;
    end if;
    return shared * 1.0 / cardinality(seen);
end
{%- endset -%}

{{ return({
    'within_one_edit': ('left_text text, right_text text', 'boolean', within_one_edit),
    'grams_jaccard': ('left_grams text[], right_grams text[]', 'numeric', grams_jaccard),
    'ngram_jaccard': ('left_text text, right_text text, gram_length integer', 'numeric', ngram_jaccard),
    'token_jaccard': ('left_text text, right_text text', 'numeric', token_jaccard),
}) }}
{%- endmacro %}


{#- The `create function` statement of one function. -#}
{% macro similarity_function_ddl(name) -%}
    {%- set arguments, returns, body = similarity_function_specs()[name] -%}
    create or replace function {{ similarity_function(name) }}({{ arguments }})
    returns {{ returns }}
    language plpgsql immutable strict parallel safe
    as $function_body${{ body }}$function_body$
{%- endmacro %}


{#- on-run-start: the schema, and every function that is missing or has another body. -#}
{% macro create_similarity_functions() -%}
    create schema if not exists "{{ similarity_function_schema() }}";
    {%- for name, spec in similarity_function_specs().items() %}
    {%- set arguments, returns, body = spec %}
    do $create_function$
    begin
        if not exists (
            select 1
            from pg_proc
            inner join pg_namespace on pg_proc.pronamespace = pg_namespace.oid
            where
                pg_namespace.nspname = '{{ similarity_function_schema() }}'
                and pg_proc.proname = '{{ name }}'
                and pg_proc.prosrc = $function_body${{ body }}$function_body$
        ) then
            {{ similarity_function_ddl(name) }};
        end if;
    end
    $create_function$;
    {%- endfor %}
{%- endmacro %}


{#- The definitions of the functions a model's rendered SQL calls, for its fingerprint. -#}
{% macro similarity_function_definitions(rendered_sql) -%}
    {%- set definitions = [] -%}
    {%- for name in similarity_function_specs() -%}
        {%- if similarity_function(name) ~ '(' in rendered_sql -%}
            {%- do definitions.append(similarity_function_ddl(name)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(definitions) }}
{%- endmacro %}
