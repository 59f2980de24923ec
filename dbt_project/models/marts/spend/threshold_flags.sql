-- Rule 9, threshold flags: per municipality, supplier (supplier_key: its identity
-- per rule 5 - organisation number or supplier register, int_supplier_identities -
-- or 'name:' and the normalised name where it has none) and category, the
-- influenceable spend that is not on-agreement over the trailing 12 calendar
-- months ending at each month end (month_start in month - 11 .. month). One row
-- per upward crossing: the trailing sum is >= a threshold and the previous month
-- end's sum was below it (0 before the first month). Every month from the
-- data set's first to its last invoice month is a month end, months without spend
-- too. Credit notes count as they are.
--
-- Thresholds: var('thresholds') = cooperation.thresholds of cooperation.yml (Norway's
-- 100 000 / 1.3 M / 2.3 M by default); a list of whole amounts (or a comma-separated
-- string of them). No thresholds: no rows.
-- Performance: the lines are aggregated to (municipality, supplier, category,
-- month) first; only those rows are range-joined to the month spine.

{%- set thresholds = var('thresholds', [100000, 1300000, 2300000]) %}
{%- if thresholds is string %}{% set thresholds = thresholds.split(',') %}{% endif %}

with

spend_lines as (

    select * from {{ ref('fct_spend_lines') }}

),

agreement_terms as (

    select * from {{ ref('int_agreement_terms') }}

),

supplier_names as (

    select * from {{ ref('int_supplier_names') }}

),

thresholds as (

    {%- for threshold in thresholds %}

    select cast({{ threshold | int }} as bigint) as threshold

    union all
    {%- endfor %}

    select cast(null as bigint) as threshold

),

keyed as (

    select
        municipality_id,
        supplier_key,
        category_id,
        month_start,
        amount,
        is_influenceable and not coalesce(is_on_agreement, false) as is_counted

    from spend_lines

),

-- the data set's first and last invoice month (all lines)
data_months as (

    select
        min(month_start) as first_month,
        max(month_start) as last_month

    from spend_lines

),

digits as (

    select 0 as digit
    {%- for digit in range(1, 10) %}

    union all

    select {{ digit }} as digit
    {%- endfor %}

),

-- 0 .. 9999: enough months for any data set
numbers as (

    select
        thousands.digit * 1000
        + hundreds.digit * 100
        + tens.digit * 10
        + units.digit as month_number

    from digits as thousands

    cross join digits as hundreds

    cross join digits as tens

    cross join digits as units

),

month_spine as (

    select
        numbers.month_number,
        {{ add_months('numbers.month_number', 'data_months.first_month') }} as month_start

    from numbers

    cross join data_months

    where
        {{ add_months('numbers.month_number', 'data_months.first_month') }}
        <= data_months.last_month

),

-- one row per municipality, supplier, category and month with counted spend
monthly_spend as (

    select
        keyed.municipality_id,
        keyed.supplier_key,
        keyed.category_id,
        month_spine.month_number,
        sum(keyed.amount) as spend

    from keyed

    inner join month_spine
        on keyed.month_start = month_spine.month_start

    where keyed.is_counted

    group by
        keyed.municipality_id,
        keyed.supplier_key,
        keyed.category_id,
        month_spine.month_number

),

-- every month end whose window (month - 12 .. month) holds spend: the trailing
-- sum of month - 11 .. month and the previous month end's (month - 12 .. month - 1)
trailing_sums as (

    select
        monthly_spend.municipality_id,
        monthly_spend.supplier_key,
        monthly_spend.category_id,
        month_spine.month_number,
        month_spine.month_start,
        sum(
            case
                when monthly_spend.month_number >= month_spine.month_number - 11
                    then monthly_spend.spend
                else 0
            end
        ) as trailing_12m_spend,
        sum(
            case
                when monthly_spend.month_number <= month_spine.month_number - 1
                    then monthly_spend.spend
                else 0
            end
        ) as previous_trailing_12m_spend

    from monthly_spend

    inner join month_spine
        on
            monthly_spend.month_number <= month_spine.month_number
            and monthly_spend.month_number + 12 >= month_spine.month_number

    group by
        monthly_spend.municipality_id,
        monthly_spend.supplier_key,
        monthly_spend.category_id,
        month_spine.month_number,
        month_spine.month_start

),

crossings as (

    select
        trailing_sums.municipality_id,
        trailing_sums.supplier_key,
        trailing_sums.category_id,
        {{ month_end('trailing_sums.month_start') }} as month_end,
        thresholds.threshold,
        trailing_sums.trailing_12m_spend

    from trailing_sums

    inner join thresholds
        on
            trailing_sums.trailing_12m_spend >= thresholds.threshold
            and trailing_sums.previous_trailing_12m_spend < thresholds.threshold

),

crossing_months as (

    select distinct
        municipality_id,
        category_id,
        month_end

    from crossings

),

-- crossing months with an agreement for the category active on the month end
-- (rule 3's definition of active, macro agreement_is_active, with the month end
-- for the invoice date)
agreement_months as (

    select
        crossing_months.municipality_id,
        crossing_months.category_id,
        crossing_months.month_end

    from crossing_months

    inner join agreement_terms
        on {{ agreement_is_active(
            'agreement_terms',
            'crossing_months.municipality_id',
            'crossing_months.category_id',
            'crossing_months.month_end',
        ) }}

    group by
        crossing_months.municipality_id,
        crossing_months.category_id,
        crossing_months.month_end

),

final as (

    select
        crossings.municipality_id,
        crossings.supplier_key,
        crossings.category_id,
        cast(crossings.month_end as date) as month_end,
        crossings.threshold,
        cast(crossings.trailing_12m_spend as decimal(38, 4)) as trailing_12m_spend,
        agreement_months.municipality_id is not null as has_agreement_for_category,
        supplier_names.supplier_name

    from crossings

    left join agreement_months
        on
            crossings.municipality_id = agreement_months.municipality_id
            and crossings.category_id = agreement_months.category_id
            and crossings.month_end = agreement_months.month_end

    left join supplier_names
        on crossings.supplier_key = supplier_names.supplier_key

)

select * from final
