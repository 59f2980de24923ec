-- Who the supplier of a spend line is (BRIEF §4 rule 5), resolved once per
-- distinct (municipality, valid organisation number, local_supplier_id, supplier
-- name) of the loaded lines, never per line: int_spend_lines_classified joins it
-- back to the lines, and every model that uses the supplier reads it from there.
--
-- In this order:
--   1. the line's validated organisation number;
--   2. else a `local_id` alias of the supplier register equal to the line's
--      local_supplier_id, an alias limited to the line's member before one for all;
--   3. else a `name` alias whose normalised name (normalize_supplier_name) equals
--      the line's;
--   4. else a `name_pattern` alias (case-insensitive regular expression) found in
--      the line's supplier name as delivered; a name matched by the patterns of
--      more than one supplier is ambiguous and not identified by pattern.
-- supplier_key: the organisation number (1); the register supplier's identity
-- (2-4: its organisation number where the register gives one, else
-- 'register:' || supplier_id); where neither, 'name:' || the normalised name
-- ('name:' alone without a name): not identified, so never on-agreement,
-- excluded or classified by a supplier rule. identified_org_no: the identified
-- supplier's organisation number (the line's own, or the registered supplier's).
-- Cost: the distinct keys are few next to the lines; the pattern cross join is
-- over the distinct names still unidentified x the patterns only.

with

spend_lines as (

    select * from {{ ref('int_spend_lines_converted') }}

    where has_exchange_rate

),

register_aliases as (

    select * from {{ ref('stg_raw__supplier_register') }}

    where alias_type is not null

),

registered_suppliers as (

    select * from {{ ref('int_registered_suppliers') }}

),

line_suppliers as (

    select
        municipality_id,
        case when is_supplier_org_no_valid then supplier_org_no end as valid_org_no,
        local_supplier_id,
        supplier_name

    from spend_lines

),

supplier_references as (

    select
        municipality_id,
        valid_org_no,
        local_supplier_id,
        supplier_name,
        {{ normalize_supplier_name('supplier_name') }} as supplier_name_key,
        count(*) as line_count

    from line_suppliers

    group by
        municipality_id,
        valid_org_no,
        local_supplier_id,
        supplier_name

),

-- 2. local vendor numbers: an alias of the line's member before one for all members
unidentified_local_ids as (

    select distinct
        municipality_id,
        local_supplier_id

    from supplier_references

    where valid_org_no is null and local_supplier_id is not null

),

ranked_local_id_matches as (

    select
        unidentified_local_ids.municipality_id,
        unidentified_local_ids.local_supplier_id,
        register_aliases.supplier_id,
        row_number() over (
            partition by
                unidentified_local_ids.municipality_id,
                unidentified_local_ids.local_supplier_id
            order by
                case when register_aliases.municipality_id is null then 1 else 0 end,
                register_aliases.supplier_id
        ) as match_rank

    from unidentified_local_ids

    inner join register_aliases
        on
            unidentified_local_ids.local_supplier_id = register_aliases.alias
            and register_aliases.alias_type = 'local_id'
            and (
                register_aliases.municipality_id is null
                or unidentified_local_ids.municipality_id = register_aliases.municipality_id
            )

),

local_id_matches as (

    select
        municipality_id,
        local_supplier_id,
        supplier_id

    from ranked_local_id_matches

    where match_rank = 1

),

-- 3. normalised names (the loader made sure one name names one supplier)
name_aliases as (

    select distinct
        supplier_id,
        {{ normalize_supplier_name('alias') }} as supplier_name_key

    from register_aliases

    where alias_type = 'name'

),

by_local_id_or_name as (

    select
        supplier_references.*,
        local_id_matches.supplier_id as local_id_supplier_id,
        name_aliases.supplier_id as name_supplier_id

    from supplier_references

    left join local_id_matches
        on
            supplier_references.municipality_id = local_id_matches.municipality_id
            and supplier_references.local_supplier_id = local_id_matches.local_supplier_id
            and supplier_references.valid_org_no is null

    left join name_aliases
        on
            supplier_references.supplier_name_key = name_aliases.supplier_name_key
            and supplier_references.valid_org_no is null

),

-- 4. patterns, over the distinct names that nothing else identified
pattern_aliases as (

    select distinct
        supplier_id,
        alias as name_pattern

    from register_aliases

    where alias_type = 'name_pattern'

),

unidentified_names as (

    select distinct supplier_name

    from by_local_id_or_name

    where
        valid_org_no is null
        and local_id_supplier_id is null
        and name_supplier_id is null
        and supplier_name is not null

),

pattern_matches as (

    select
        unidentified_names.supplier_name,
        count(distinct pattern_aliases.supplier_id) as pattern_supplier_count,
        min(pattern_aliases.supplier_id) as supplier_id

    from unidentified_names

    cross join pattern_aliases

    where {{ matches_column_pattern_ignoring_case(
        'unidentified_names.supplier_name', 'pattern_aliases.name_pattern'
    ) }}

    group by unidentified_names.supplier_name

),

resolved as (

    select
        by_local_id_or_name.*,
        coalesce(pattern_matches.pattern_supplier_count, 0) as pattern_supplier_count,
        case
            when by_local_id_or_name.valid_org_no is not null then 'org_no'
            when by_local_id_or_name.local_id_supplier_id is not null then 'local_id'
            when by_local_id_or_name.name_supplier_id is not null then 'name'
            when pattern_matches.pattern_supplier_count = 1 then 'name_pattern'
        end as supplier_identified_by,
        coalesce(
            by_local_id_or_name.local_id_supplier_id,
            by_local_id_or_name.name_supplier_id,
            case
                when pattern_matches.pattern_supplier_count = 1 then pattern_matches.supplier_id
            end
        ) as alias_supplier_id

    from by_local_id_or_name

    left join pattern_matches
        on
            by_local_id_or_name.supplier_name = pattern_matches.supplier_name
            and by_local_id_or_name.valid_org_no is null
            and by_local_id_or_name.local_id_supplier_id is null
            and by_local_id_or_name.name_supplier_id is null

),

final as (

    select
        resolved.municipality_id,
        resolved.valid_org_no,
        resolved.local_supplier_id,
        resolved.supplier_name,
        resolved.supplier_name_key,
        case
            when resolved.valid_org_no is not null then resolved.valid_org_no
            when resolved.alias_supplier_id is not null then registered_by_alias.supplier_key
            else {{ dbt.concat(["'name:'", "coalesce(resolved.supplier_name_key, '')"]) }}
        end as supplier_key,
        resolved.supplier_identified_by is not null as is_supplier_identified,
        resolved.supplier_identified_by,
        coalesce(resolved.valid_org_no, registered_by_alias.org_no) as identified_org_no,
        coalesce(
            resolved.alias_supplier_id, registered_by_org_no.supplier_id
        ) as register_supplier_id,
        resolved.pattern_supplier_count,
        resolved.line_count

    from resolved

    left join registered_suppliers as registered_by_alias
        on resolved.alias_supplier_id = registered_by_alias.supplier_id

    left join registered_suppliers as registered_by_org_no
        on resolved.valid_org_no = registered_by_org_no.org_no

)

select * from final
