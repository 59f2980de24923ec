-- Which years each member delivered in full, and which year the summaries show by
-- default. A member's year is complete when it has spend in all twelve months; the
-- cooperation's ('ALL') year is complete when every member of the cooperation is
-- (a member without any spend in that year counts as missing). The default year is
-- the latest complete year; when no year is complete, the latest year in which
-- every member has spend; when there is none either, the year in which the most
-- members have spend (the latest of equals). Anything but a complete year is
-- marked partial where it is shown. Outlier invoice dates (a 2012 line in a 2021
-- file) make a year appear, never a complete or a default one.

with

spend_lines as (

    select * from {{ ref('fct_spend_lines') }}

),

municipalities as (

    select * from {{ ref('dim_municipalities') }}

),

member_months as (

    select
        municipality_id,
        year,
        count(distinct month_start) as months_with_spend,
        min(month_start) as first_month,
        max(month_start) as last_month

    from spend_lines

    group by
        municipality_id,
        year

),

years as (

    select distinct year from member_months

),

member_years as (

    select
        municipalities.municipality_id,
        years.year,
        coalesce(member_months.months_with_spend, 0) as months_with_spend,
        member_months.first_month,
        member_months.last_month,
        coalesce(member_months.months_with_spend, 0) = 12 as is_complete_year

    from municipalities

    cross join years

    left join member_months
        on
            municipalities.municipality_id = member_months.municipality_id
            and years.year = member_months.year

),

cooperation_years as (

    select
        year,
        count(*) as member_count,
        sum(case when months_with_spend > 0 then 1 else 0 end) as delivering_member_count,
        sum(case when is_complete_year then 1 else 0 end) as complete_member_count,
        min(first_month) as first_month,
        max(last_month) as last_month

    from member_years

    group by year

),

cooperation_months as (

    select
        year,
        count(distinct month_start) as months_with_spend

    from spend_lines

    group by year

),

ranked_years as (

    select
        year,
        row_number() over (
            order by
                case when complete_member_count = member_count then 1 else 0 end desc,
                case when delivering_member_count = member_count then 1 else 0 end desc,
                case
                    when delivering_member_count = member_count then 0
                    else delivering_member_count
                end desc,
                year desc
        ) as preference

    from cooperation_years

),

default_year as (

    select year

    from ranked_years

    where preference = 1

),

unioned as (

    select
        member_years.municipality_id,
        member_years.year,
        member_years.months_with_spend,
        member_years.first_month,
        member_years.last_month,
        member_years.is_complete_year,
        cast(null as integer) as member_count,
        cast(null as integer) as delivering_member_count,
        cast(null as integer) as complete_member_count

    from member_years

    union all

    select
        'ALL' as municipality_id,
        cooperation_years.year,
        cooperation_months.months_with_spend,
        cooperation_years.first_month,
        cooperation_years.last_month,
        cooperation_years.member_count = cooperation_years.complete_member_count
            as is_complete_year,
        cooperation_years.member_count,
        cooperation_years.delivering_member_count,
        cooperation_years.complete_member_count

    from cooperation_years

    inner join cooperation_months
        on cooperation_years.year = cooperation_months.year

),

final as (

    select
        unioned.municipality_id,
        cast(unioned.year as integer) as year,
        cast(unioned.months_with_spend as integer) as months_with_spend,
        cast(unioned.first_month as date) as first_month,
        cast(unioned.last_month as date) as last_month,
        unioned.is_complete_year,
        cast(unioned.member_count as integer) as member_count,
        cast(unioned.delivering_member_count as integer) as delivering_member_count,
        cast(unioned.complete_member_count as integer) as complete_member_count,
        unioned.year = default_year.year as is_default_year

    from unioned

    cross join default_year

)

select * from final
