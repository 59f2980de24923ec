with

source as (

    select * from {{ source('raw', 'classification_rules') }}

),

renamed as (

    select
        rule_type,
        pattern as rule_pattern,
        category_id

    from source

)

select * from renamed
