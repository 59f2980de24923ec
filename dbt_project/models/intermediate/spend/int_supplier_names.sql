-- One row per supplier_key: the name shown for it, the most frequent name on its
-- lines (ties: the first in alphabetical order), and how many names it goes by.

with

spend_lines as (

    select * from {{ ref('int_spend_lines_converted') }}

    where has_exchange_rate and supplier_name is not null

),

name_counts as (

    select
        supplier_key,
        supplier_name,
        count(*) as line_count

    from spend_lines

    group by
        supplier_key,
        supplier_name

),

ranked_names as (

    select
        supplier_key,
        supplier_name,
        row_number() over (
            partition by supplier_key
            order by line_count desc, supplier_name asc
        ) as name_rank,
        count(*) over (partition by supplier_key) as name_variant_count

    from name_counts

),

final as (

    select
        supplier_key,
        supplier_name,
        name_variant_count

    from ranked_names

    where name_rank = 1

)

select * from final
