-- The shipped seed, or raw.kostra_arts when cooperation.yml configures its own file
-- (macro reference_data, var reference_overrides).

with

source as (

    select * from {{ reference_data('kostra_arts') }}

),

renamed as (

    select
        cast(art as {{ dbt.type_string() }}) as art,
        cast(art_name as {{ dbt.type_string() }}) as art_name,
        cast(is_influenceable as boolean) as is_influenceable

    from source

)

select * from renamed
