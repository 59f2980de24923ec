-- The cooperation's category taxonomy plus the 'unclassified' category that
-- rule 2 (d) gives influenceable lines no classification rule matched (added
-- unless the taxonomy has it already).

with

categories as (

    select * from {{ ref('stg_raw__categories') }}

),

default_unclassified as (

    select
        'unclassified' as category_id,
        'Unclassified' as category_name,
        cast(null as {{ dbt.type_string() }}) as parent_category_id

),

missing_unclassified as (

    select default_unclassified.*

    from default_unclassified

    left join categories
        on default_unclassified.category_id = categories.category_id

    where categories.category_id is null

),

unioned as (

    select
        category_id,
        category_name,
        parent_category_id,
        category_id = 'unclassified' as is_unclassified

    from categories

    union all

    select
        category_id,
        category_name,
        parent_category_id,
        true as is_unclassified

    from missing_unclassified

)

select * from unioned
