{#
    Supplier names as keys (BRIEF §4 rules 5 and 9): one normalised form, so that the
    spellings of one supplier are one name. Used for the supplier register's `name`
    aliases and for the 'name:' key of a supplier that is identified neither by its
    organisation number nor by the register (int_supplier_identities). The supplier
    register loader (pipelines/supplier_register_loader.py) renders this file for
    DuckDB to find two `name` aliases of different suppliers that fold to one name,
    so that check and the models use the very same rule.

    normalize_supplier_name(name):
      1. lower case; '&' is read as ' and ' ("A&J Keith" = "A & J KEITH" = "a and j keith");
      2. every run of characters that are not letters or digits (punctuation and any
         whitespace, Unicode spaces such as the no-break space too) becomes one space,
         and the ends are trimmed;
      3. the legal forms AS, ASA, A/S, ApS, AB, Oy, Oyj, Ltd, Limited and PLC are left
         out at the end ("ACME LTD" = "Acme Limited" = "acme") and at the start
         ("Oy Nokia" = "nokia"), repeated forms too ("Acme Holding AS ASA"); a name that
         is nothing but one form keeps it.
    NULL (or a name of nothing but punctuation) gives NULL.
#}
{% macro normalize_supplier_name(name) -%}
    {{ return(adapter.dispatch('normalize_supplier_name', 'samkjop')(name)) }}
{%- endmacro %}

{% macro default__normalize_supplier_name(name) -%}
    {%- set legal_forms = 'as|asa|a s|aps|ab|oy|oyj|ltd|limited|plc' -%}
    {%- set folded = 'trim(' ~ samkjop.regexp_replace_all(
        "replace(lower(" ~ name ~ "), '&', ' and ')",
        samkjop.sql_string_literal('[^\\p{L}\\p{N}]+'),
        "' '",
    ) ~ ')' -%}
    {%- set without_trailing_forms = samkjop.regexp_replace_first(
        folded, samkjop.sql_string_literal('( (' ~ legal_forms ~ '))+$'), "''"
    ) -%}
    nullif({{ samkjop.regexp_replace_first(
        without_trailing_forms, samkjop.sql_string_literal('^((' ~ legal_forms ~ ') )+'), "''"
    ) }}, '')
{%- endmacro %}


{#
    regexp_replace of every match. DuckDB and Postgres replace the first match unless
    told 'g'; Spark, Snowflake and BigQuery replace every match.
#}
{% macro regexp_replace_all(expression, pattern, replacement) -%}
    {{ return(adapter.dispatch('regexp_replace_all', 'samkjop')(expression, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, {{ pattern }}, {{ replacement }})
{%- endmacro %}

{% macro duckdb__regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, {{ pattern }}, {{ replacement }}, 'g')
{%- endmacro %}

{% macro postgres__regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, {{ pattern }}, {{ replacement }}, 'g')
{%- endmacro %}


{#
    regexp_replace of a pattern that can match once only (anchored with ^ or $): the
    same on every engine, whether it replaces the first match or all of them.
#}
{% macro regexp_replace_first(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, {{ pattern }}, {{ replacement }})
{%- endmacro %}


{#
    Whether `expression` contains a match of the regular expression held in the column
    `pattern_column`, ignoring case: the supplier register's name_pattern aliases. (A
    pattern written in the configuration is inlined instead: matches_pattern_ignoring_case.)
#}
{% macro matches_column_pattern_ignoring_case(expression, pattern_column) -%}
    {{ return(adapter.dispatch('matches_column_pattern_ignoring_case', 'samkjop')(
        expression, pattern_column
    )) }}
{%- endmacro %}

{% macro default__matches_column_pattern_ignoring_case(expression, pattern_column) -%}
    {{ exceptions.raise_compiler_error(
        "matches_column_pattern_ignoring_case (dbt_project/macros/supplier_names.sql) has no "
        ~ "variant for the adapter '" ~ adapter.type() ~ "': add one"
    ) }}
{%- endmacro %}

{% macro postgres__matches_column_pattern_ignoring_case(expression, pattern_column) -%}
    ({{ expression }} ~* {{ pattern_column }})
{%- endmacro %}

{% macro duckdb__matches_column_pattern_ignoring_case(expression, pattern_column) -%}
    regexp_matches({{ expression }}, {{ pattern_column }}, 'i')
{%- endmacro %}

{% macro spark__matches_column_pattern_ignoring_case(expression, pattern_column) -%}
    ({{ expression }} rlike {{ dbt.concat(["'(?i)'", pattern_column]) }})
{%- endmacro %}
