-- The shipped seed, or raw.emission_factors when cooperation.yml configures its own file
-- (macro reference_data, var reference_overrides).

with

source as (

    select * from {{ reference_data('emission_factors') }}

),

renamed as (

    select
        cast(category_id as {{ dbt.type_string() }}) as category_id,
        cast(kg_co2e_per_currency_unit as decimal(18, 6)) as kg_co2e_per_currency_unit,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(source as {{ dbt.type_string() }}) as factor_source,
        cast(is_illustrative as boolean) as is_illustrative

    from source

)

select * from renamed
