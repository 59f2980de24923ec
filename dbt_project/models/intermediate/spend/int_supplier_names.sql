-- One row per supplier_key (int_supplier_identities): the name shown for it and
-- how many names its lines go by. The name is the supplier register's name where
-- the supplier is registered with one, else the most frequent name on its lines
-- (ties: the first in alphabetical order). Registered suppliers without lines
-- are listed too (an agreement's supplier that never invoiced).

with

supplier_identities as (

    select * from {{ ref('int_supplier_identities') }}

),

registered_suppliers as (

    select * from {{ ref('int_registered_suppliers') }}

),

name_counts as (

    select
        supplier_key,
        supplier_name,
        sum(line_count) as line_count

    from supplier_identities

    where supplier_name is not null

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

line_names as (

    select
        supplier_key,
        supplier_name,
        name_variant_count

    from ranked_names

    where name_rank = 1

),

registered_names as (

    select
        supplier_key,
        min(supplier_name) as supplier_name

    from registered_suppliers

    where supplier_name is not null

    group by supplier_key

),

supplier_keys as (

    select supplier_key from line_names

    union

    select supplier_key from registered_names

),

final as (

    select
        supplier_keys.supplier_key,
        coalesce(registered_names.supplier_name, line_names.supplier_name) as supplier_name,
        coalesce(line_names.name_variant_count, 0) as name_variant_count

    from supplier_keys

    left join registered_names
        on supplier_keys.supplier_key = registered_names.supplier_key

    left join line_names
        on supplier_keys.supplier_key = line_names.supplier_key

)

select * from final
