with

municipalities as (

    select * from {{ ref('stg_raw__municipalities') }}

),

final as (

    select
        municipality_id,
        municipality_name,
        population,
        is_host

    from municipalities

)

select * from final
