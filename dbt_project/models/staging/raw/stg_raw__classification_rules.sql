-- The shipped seed, or raw.classification_rules when cooperation.yml configures its own file
-- (macro reference_data, var reference_overrides).

with

source as (

    select * from {{ reference_data('classification_rules') }}

),

renamed as (

    select
        cast(rule_type as {{ dbt.type_string() }}) as rule_type,
        cast(pattern as {{ dbt.type_string() }}) as rule_pattern,
        cast(category_id as {{ dbt.type_string() }}) as category_id

    from source

)

select * from renamed
