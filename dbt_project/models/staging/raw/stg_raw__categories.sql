-- The shipped seed, or raw.taxonomy when cooperation.yml configures its own file
-- (macro reference_data, var reference_overrides).

with

source as (

    select * from {{ reference_data('taxonomy') }}

),

renamed as (

    select
        cast(category_id as {{ dbt.type_string() }}) as category_id,
        cast(category_name as {{ dbt.type_string() }}) as category_name,
        cast(parent_id as {{ dbt.type_string() }}) as parent_category_id

    from source

)

select * from renamed
