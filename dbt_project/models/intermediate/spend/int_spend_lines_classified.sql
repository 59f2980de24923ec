{{ config(
    materialized=line_model_materialization(),
    incremental_strategy='append',
    on_schema_change='fail',
) }}

-- Rule 1 (influenceable spend) and rule 2 (category), computed once per rule key
-- (macro rule_key_columns: member, valid organisation number, local_supplier_id,
-- supplier name, art, item code and invoice date - everything the rules read of a
-- line) of the lines that have an exchange rate, never per line: lines with one
-- key are classified alike. One row per key, with max_spend_line_key, the highest
-- spend_line_key of the lines it was classified from; int_spend_lines_matched
-- adds the agreement flags and fct_spend_lines joins the lines to them once, on
-- the key.
--
-- Incremental on DuckDB (macro loaded_since_last_build): a build classifies the
-- keys of the lines loaded since the last one that it does not hold yet; rules,
-- reference data, settings or code that changed make it a full rebuild
-- (pipelines/incremental.py).
--
-- Every key gets its supplier identity here, once (int_supplier_identities,
-- BRIEF §4 rule 5: organisation number, else the supplier register), and every
-- later model reads it from this model or fct_spend_lines.
-- Rule 1: influenceable = the line's KOSTRA art is in the influenceable set
-- (kostra_arts.is_influenceable) and its supplier is not excluded (the exclusion
-- list names an organisation number or a supplier register id). A line whose art
-- is NULL or not in kostra_arts is unknown and not influenceable.
-- Rule 2: an influenceable line gets exactly one category, by the first rule that
-- matches: (a) item code, longest matching prefix; (b) supplier (organisation
-- number or register id); (c) art; (d) 'unclassified'. Non-influenceable lines
-- get no category. A line whose supplier is not identified is never excluded by
-- supplier nor classified by a supplier rule.

with

converted_lines as (

    select
        converted.municipality_id,
        {{ valid_org_no('converted') }} as valid_org_no,
        converted.local_supplier_id,
        converted.supplier_name,
        converted.art,
        converted.item_code,
        converted.invoice_date,
        converted.spend_line_key

    from {{ ref('int_spend_lines_converted') }} as converted

    where
        converted.has_exchange_rate
        {{ loaded_since_last_build('converted.spend_line_key') }}

),

rule_keys as (

    select
        municipality_id,
        valid_org_no,
        local_supplier_id,
        supplier_name,
        art,
        item_code,
        invoice_date,
        max(spend_line_key) as max_spend_line_key

    from converted_lines

    group by
        municipality_id,
        valid_org_no,
        local_supplier_id,
        supplier_name,
        art,
        item_code,
        invoice_date

),

new_rule_keys as (

    select * from rule_keys

    {% if is_incremental() -%}
    where
        not exists (
            select 1
            from {{ this }} as held
            where {{ same_values('held', 'rule_keys', rule_key_columns()) }}
        )
    {%- endif %}

),

supplier_identities as (

    select * from {{ ref('int_supplier_identities') }}

),

rule_key_suppliers as (

    select
        new_rule_keys.*,
        supplier_identities.supplier_key,
        supplier_identities.is_supplier_identified,
        supplier_identities.supplier_identified_by,
        supplier_identities.identified_org_no,
        supplier_identities.register_supplier_id,
        -- only an identified supplier can match an exclusion or a supplier rule
        case
            when supplier_identities.is_supplier_identified then supplier_identities.supplier_key
        end as identified_supplier_key

    from new_rule_keys

    inner join supplier_identities
        on
            new_rule_keys.municipality_id = supplier_identities.municipality_id
            and {{ same_values(
                'new_rule_keys',
                'supplier_identities',
                ['valid_org_no', 'local_supplier_id', 'supplier_name'],
            ) }}

),

kostra_arts as (

    select * from {{ ref('stg_raw__kostra_arts') }}

),

supplier_references as (

    select * from {{ ref('int_supplier_references') }}

),

excluded_suppliers as (

    select * from {{ ref('int_excluded_suppliers') }}

),

classification_rules as (

    select * from {{ ref('stg_raw__classification_rules') }}

),

flagged as (

    select
        rule_key_suppliers.*,
        {{ normalize_item_code('rule_key_suppliers.item_code') }} as item_code_normalized,
        kostra_arts.art is not null as is_art_known,
        excluded_suppliers.supplier_key is not null as is_excluded_supplier,
        coalesce(kostra_arts.is_influenceable, false)
        and excluded_suppliers.supplier_key is null as is_influenceable

    from rule_key_suppliers

    left join kostra_arts
        on rule_key_suppliers.art = kostra_arts.art

    left join excluded_suppliers
        on rule_key_suppliers.identified_supplier_key = excluded_suppliers.supplier_key

),

-- (a) item code rules: the distinct codes of the lines (few) are cut to every
-- prefix length the rules use and joined to the rules on equality; the longest
-- matching prefix wins and is joined back to the lines on equality.
item_code_rules as (

    select
        rule_pattern,
        category_id,
        {{ normalize_item_code('rule_pattern') }} as item_code_prefix

    from classification_rules

    where rule_type = 'item_code'

),

item_code_prefix_lengths as (

    select distinct {{ dbt.length('item_code_prefix') }} as prefix_length

    from item_code_rules

    where item_code_prefix is not null

),

line_item_codes as (

    select distinct item_code_normalized

    from flagged

    where is_influenceable and item_code_normalized is not null

),

line_item_code_prefixes as (

    select
        line_item_codes.item_code_normalized,
        item_code_prefix_lengths.prefix_length,
        substring(
            line_item_codes.item_code_normalized, 1, item_code_prefix_lengths.prefix_length
        ) as item_code_prefix

    from line_item_codes

    cross join item_code_prefix_lengths

    where
        {{ dbt.length('line_item_codes.item_code_normalized') }}
        >= item_code_prefix_lengths.prefix_length

),

item_code_matches as (

    select
        line_item_code_prefixes.item_code_normalized,
        item_code_rules.rule_pattern,
        item_code_rules.category_id,
        row_number() over (
            partition by line_item_code_prefixes.item_code_normalized
            order by
                line_item_code_prefixes.prefix_length desc,
                item_code_rules.category_id asc,
                item_code_rules.rule_pattern asc
        ) as match_rank

    from line_item_code_prefixes

    inner join item_code_rules
        on line_item_code_prefixes.item_code_prefix = item_code_rules.item_code_prefix

),

item_code_winners as (

    select
        item_code_normalized,
        rule_pattern,
        category_id

    from item_code_matches

    where match_rank = 1

),

-- (b) supplier rules and (c) art rules match on equality; should a pattern be
-- listed twice, the lowest category_id wins so the result is deterministic.
ranked_equality_rules as (

    select
        rule_type,
        rule_pattern,
        category_id,
        row_number() over (
            partition by rule_type, rule_pattern
            order by category_id
        ) as rule_rank

    from classification_rules

    where rule_type in ('supplier', 'art')

),

-- a supplier rule names an organisation number or a supplier register id; should
-- two rules name one supplier, the lowest category_id wins
ranked_supplier_rules as (

    select
        ranked_equality_rules.rule_pattern,
        ranked_equality_rules.category_id,
        supplier_references.supplier_key,
        row_number() over (
            partition by supplier_references.supplier_key
            order by ranked_equality_rules.category_id, ranked_equality_rules.rule_pattern
        ) as supplier_rank

    from ranked_equality_rules

    inner join supplier_references
        on ranked_equality_rules.rule_pattern = supplier_references.supplier_reference

    where
        ranked_equality_rules.rule_type = 'supplier'
        and ranked_equality_rules.rule_rank = 1
        and supplier_references.supplier_key is not null

),

supplier_rules as (

    select
        rule_pattern,
        category_id,
        supplier_key

    from ranked_supplier_rules

    where supplier_rank = 1

),

art_rules as (

    select
        rule_pattern,
        category_id

    from ranked_equality_rules

    where rule_type = 'art' and rule_rank = 1

),

classified as (

    select
        flagged.municipality_id,
        flagged.valid_org_no,
        flagged.local_supplier_id,
        flagged.supplier_name,
        flagged.art,
        flagged.item_code,
        flagged.invoice_date,
        flagged.max_spend_line_key,
        flagged.supplier_key,
        flagged.is_supplier_identified,
        flagged.supplier_identified_by,
        flagged.identified_org_no,
        flagged.register_supplier_id,
        flagged.item_code_normalized,
        flagged.is_art_known,
        flagged.is_excluded_supplier,
        flagged.is_influenceable,
        case
            when not flagged.is_influenceable then null
            when item_code_winners.category_id is not null
                then item_code_winners.category_id
            when supplier_rules.category_id is not null
                then supplier_rules.category_id
            when art_rules.category_id is not null
                then art_rules.category_id
            else 'unclassified'
        end as category_id,
        case
            when not flagged.is_influenceable then null
            when item_code_winners.category_id is not null then 'item_code'
            when supplier_rules.category_id is not null then 'supplier'
            when art_rules.category_id is not null then 'art'
            else 'unclassified'
        end as classification_rule_type,
        case
            when not flagged.is_influenceable then null
            when item_code_winners.category_id is not null
                then item_code_winners.rule_pattern
            when supplier_rules.category_id is not null
                then supplier_rules.rule_pattern
            when art_rules.category_id is not null
                then art_rules.rule_pattern
        end as classification_rule_pattern

    from flagged

    left join item_code_winners
        on flagged.item_code_normalized = item_code_winners.item_code_normalized

    left join supplier_rules
        on flagged.identified_supplier_key = supplier_rules.supplier_key

    left join art_rules
        on flagged.art = art_rules.rule_pattern

)

select * from classified
