-- The cooperation itself: one row.

with

cooperations as (

    select * from {{ ref('stg_raw__cooperations') }}

),

municipalities as (

    select * from {{ ref('stg_raw__municipalities') }}

),

member_counts as (

    select count(*) as member_count

    from municipalities

),

final as (

    select
        cooperations.cooperation_name,
        cooperations.country,
        cooperations.currency,
        cooperations.host_municipality_id,
        hosts.municipality_name as host_municipality_name,
        cooperations.loyalty_target,
        cooperations.coverage_target,
        member_counts.member_count

    from cooperations

    cross join member_counts

    left join municipalities as hosts
        on cooperations.host_municipality_id = hosts.municipality_id

)

select * from final
