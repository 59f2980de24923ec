-- Agreement follow-up (avtaleoppfølging): per framework agreement, year and
-- participating member, plus the agreement as a whole ('ALL' = the sum of its
-- participants).
--
-- A line is covered by this agreement when the agreement is active for it
-- (rule 3, int_spend_line_agreements: the line's category is one of the
-- agreement's, the line's member participates, valid_from <= invoice_date <=
-- valid_to), and on this agreement when, in addition, its identified supplier
-- (organisation number or supplier register) is one of the agreement's suppliers.
-- A line can be covered by and on several agreements at once: it counts in full
-- on each of them (so the agreements' amounts do not add up to the members'
-- on_agreement_spend);
-- on_agreement_spend_also_on_other_agreements shows how much of it that is.
--
-- utilisation = on_agreement_spend / estimated_annual_volume (whole agreement,
-- 'ALL' rows only; NULL where no volume is given). provision_amount =
-- provision_rate * on_agreement_spend.
--
-- as_of_date: var('as_of_date') when given, else the last invoice date in
-- fct_spend_lines. is_expiring_within_6_months: as_of_date <= valid_to <=
-- as_of_date + 6 calendar months. The trailing 12 months (invoice dates after
-- as_of_date - 12 months, up to and including as_of_date) are summed on the
-- row of the as-of date's year only (NULL on the other years), so they can be
-- added up over members but are never counted twice over years.
--
-- Rows: every participant (and 'ALL') for every year in which the agreement
-- is valid on at least one day and the data has invoices (or the as-of date
-- falls), spend or not.

{%- set as_of_override = var('as_of_date', none) %}

with

spend_lines as (

    select * from {{ ref('fct_spend_lines') }}

),

-- the agreements active for the lines (rule 3), per match key
line_agreements as (

    select * from {{ ref('int_spend_line_agreements') }}

),

agreement_terms as (

    select * from {{ ref('int_agreement_terms') }}

),

agreements as (

    select * from {{ ref('stg_raw__agreements') }}

),

as_of as (

    {% if as_of_override -%}
    select cast('{{ as_of_override }}' as date) as as_of_date
    {%- else -%}
    select cast(max(invoice_date) as date) as as_of_date

    from spend_lines
    {%- endif %}

),

as_of_bounds as (

    select
        as_of_date,
        cast(extract(year from as_of_date) as integer) as as_of_year,
        {{ add_months('-12', 'as_of_date') }} as trailing_window_start,
        {{ add_months('6', 'as_of_date') }} as expiry_horizon

    from as_of

),

-- lines that can match (influenceable: they have a category), summed per match
-- key (what matching depends on)
line_groups as (

    select
        municipality_id,
        category_id,
        supplier_key,
        invoice_date,
        year,
        sum(amount) as amount

    from spend_lines

    where category_id is not null

    group by
        municipality_id,
        category_id,
        supplier_key,
        invoice_date,
        year

),

-- one row per line group and agreement active for it (rule 3)
covered_lines as (

    select
        line_agreements.agreement_id,
        line_groups.municipality_id,
        line_groups.category_id,
        line_groups.supplier_key,
        line_groups.invoice_date,
        line_groups.year,
        line_groups.amount,
        line_agreements.is_supplier_on_agreement as is_on_this_agreement

    from line_groups

    inner join line_agreements
        on {{ same_match_key('line_groups', 'line_agreements') }}

),

counted_lines as (

    select
        *,
        sum(case when is_on_this_agreement then 1 else 0 end) over (
            partition by municipality_id, category_id, supplier_key, invoice_date
        ) as on_agreement_count

    from covered_lines

),

member_years as (

    select
        agreement_id,
        municipality_id,
        year,
        sum(amount) as covered_spend,
        sum(case when is_on_this_agreement then amount else 0 end) as on_agreement_spend,
        sum(
            case when is_on_this_agreement and on_agreement_count > 1 then amount else 0 end
        ) as on_agreement_spend_also_on_other_agreements

    from counted_lines

    group by
        agreement_id,
        municipality_id,
        year

),

member_trailing as (

    select
        counted_lines.agreement_id,
        counted_lines.municipality_id,
        sum(counted_lines.amount) as trailing_12m_covered_spend,
        sum(
            case when counted_lines.is_on_this_agreement then counted_lines.amount else 0 end
        ) as trailing_12m_on_agreement_spend

    from counted_lines

    cross join as_of_bounds

    where
        counted_lines.invoice_date > as_of_bounds.trailing_window_start
        and counted_lines.invoice_date <= as_of_bounds.as_of_date

    group by
        counted_lines.agreement_id,
        counted_lines.municipality_id

),

data_years as (

    select distinct year from spend_lines

    union

    select as_of_year as year from as_of_bounds

),

agreement_years as (

    select
        agreements.agreement_id,
        data_years.year

    from agreements

    inner join data_years
        on
            data_years.year >= extract(year from agreements.valid_from)
            and data_years.year <= extract(year from agreements.valid_to)

),

agreement_members as (

    select distinct
        agreement_id,
        municipality_id

    from agreement_terms

),

member_rows as (

    select
        agreement_years.agreement_id,
        agreement_members.municipality_id,
        agreement_years.year,
        coalesce(member_years.covered_spend, 0) as covered_spend,
        coalesce(member_years.on_agreement_spend, 0) as on_agreement_spend,
        coalesce(member_years.on_agreement_spend_also_on_other_agreements, 0)
            as on_agreement_spend_also_on_other_agreements,
        case
            when agreement_years.year = as_of_bounds.as_of_year
                then coalesce(member_trailing.trailing_12m_covered_spend, 0)
        end as trailing_12m_covered_spend,
        case
            when agreement_years.year = as_of_bounds.as_of_year
                then coalesce(member_trailing.trailing_12m_on_agreement_spend, 0)
        end as trailing_12m_on_agreement_spend

    from agreement_years

    inner join agreement_members
        on agreement_years.agreement_id = agreement_members.agreement_id

    cross join as_of_bounds

    left join member_years
        on
            agreement_years.agreement_id = member_years.agreement_id
            and agreement_members.municipality_id = member_years.municipality_id
            and agreement_years.year = member_years.year

    left join member_trailing
        on
            agreement_years.agreement_id = member_trailing.agreement_id
            and agreement_members.municipality_id = member_trailing.municipality_id

),

-- the agreement as a whole ('ALL'): its participants' amounts added up (rule 8)
followup_rows as (

    {{ with_cooperation_rollup(
        'member_rows',
        ['agreement_id', 'year'],
        [
            'covered_spend',
            'on_agreement_spend',
            'on_agreement_spend_also_on_other_agreements',
            'trailing_12m_covered_spend',
            'trailing_12m_on_agreement_spend',
        ],
    ) }}

),

final as (

    select
        followup_rows.agreement_id,
        agreements.agreement_name,
        agreements.scope,
        followup_rows.municipality_id,
        cast(followup_rows.year as integer) as year,
        agreements.valid_from,
        agreements.valid_to,
        cast(followup_rows.covered_spend as decimal(38, 4)) as covered_spend,
        cast(followup_rows.on_agreement_spend as decimal(38, 4)) as on_agreement_spend,
        {{ off_agreement_spend(
            'followup_rows.covered_spend', 'followup_rows.on_agreement_spend'
        ) }} as off_agreement_spend,
        {{ safe_ratio('followup_rows.on_agreement_spend', 'followup_rows.covered_spend') }}
            as loyalty,
        cast(followup_rows.on_agreement_spend_also_on_other_agreements as decimal(38, 4))
            as on_agreement_spend_also_on_other_agreements,
        case
            when followup_rows.municipality_id = 'ALL'
                then cast(agreements.estimated_annual_volume as decimal(18, 4))
        end as estimated_annual_volume,
        case
            when followup_rows.municipality_id = 'ALL'
                then {{ safe_ratio(
                    'followup_rows.on_agreement_spend', 'agreements.estimated_annual_volume'
                ) }}
        end as utilisation,
        cast(agreements.provision_rate as decimal(9, 6)) as provision_rate,
        cast(
            agreements.provision_rate * followup_rows.on_agreement_spend as decimal(38, 4)
        ) as provision_amount,
        as_of_bounds.as_of_date,
        cast(
            {{ dbt.datediff('as_of_bounds.as_of_date', 'agreements.valid_to', 'day') }}
            as integer
        ) as days_to_expiry,
        agreements.valid_to >= as_of_bounds.as_of_date
        and agreements.valid_to <= as_of_bounds.expiry_horizon as is_expiring_within_6_months,
        cast(followup_rows.trailing_12m_covered_spend as decimal(38, 4))
            as trailing_12m_covered_spend,
        cast(followup_rows.trailing_12m_on_agreement_spend as decimal(38, 4))
            as trailing_12m_on_agreement_spend

    from followup_rows

    inner join agreements
        on followup_rows.agreement_id = agreements.agreement_id

    cross join as_of_bounds

)

select * from final
