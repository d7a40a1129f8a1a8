{#- The canonical email: trimmed, lower-cased, a leading "mailto:" and enclosing <> removed; blank is null. -#}
{% macro standardize_email(expr) -%}
    nullif({{ regex_replace_all("lower(trim(" ~ expr ~ "))", "'^(mailto:)?<?|>$'", "''") }}, '')
{%- endmacro %}


{#-
    Whether a standardized email is syntactically deliverable: one @, a dot-atom local part of allowed
    characters (no leading, trailing or doubled dots) and a domain of labels with a 2+ letter top level.
    Null when there is no email.
-#}
{% macro is_valid_email(email_expr) -%}
    case
        when {{ email_expr }} is null then null
        else coalesce({{ regex_matches(email_expr,
            "'^[a-z0-9!#$%&*+/=?^_`{|}~''-]+(\\.[a-z0-9!#$%&*+/=?^_`{|}~''-]+)*@([a-z0-9]([a-z0-9-]*[a-z0-9])?\\.)+[a-z]{2,}$'"
        ) }}, false)
    end
{%- endmacro %}


{#-
    A key for matching emails that the provider delivers to the same mailbox; never a canonical value.
    `rules` is the alias of a joined ref_email_provider_rules row for the email's domain (null when the
    provider is unknown): its canonical_domain replaces the domain (googlemail.com -> gmail.com), its
    ignores_dots drops dots from the local part, its strips_plus_tags drops a "+tag". Unknown providers
    keep the address as it is, since for them a +tag or a dot may be a different mailbox. Invalid emails
    have no key. Pass `is_valid_expr` (a column already holding is_valid_email of the email) to reuse it
    instead of checking the email again.
-#}
{% macro email_match_key(email_expr, rules='email_rules', is_valid_expr=none) -%}
    case
        when {{ is_valid_expr or is_valid_email(email_expr) }} then
            case
                when coalesce({{ rules }}.ignores_dots, false)
                    then replace(
                        case
                            when coalesce({{ rules }}.strips_plus_tags, false)
                                then split_part(split_part({{ email_expr }}, '@', 1), '+', 1)
                            else split_part({{ email_expr }}, '@', 1)
                        end, '.', ''
                    )
                when coalesce({{ rules }}.strips_plus_tags, false)
                    then split_part(split_part({{ email_expr }}, '@', 1), '+', 1)
                else split_part({{ email_expr }}, '@', 1)
            end
            || '@' || coalesce({{ rules }}.canonical_domain, split_part({{ email_expr }}, '@', 2))
    end
{%- endmacro %}


{#- The domain of an email (the part after the last @), for joining the provider rules. -#}
{% macro email_domain(email_expr) -%}
    nullif({{ regex_capture(email_expr, "'@([^@]*)$'") }}, '')
{%- endmacro %}
