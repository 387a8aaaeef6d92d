-- investment_products: the latest version of each row of raw.investment_products, renamed; deleted rows flagged, not dropped.
with source as (
    {{ latest_version(source('oltp', 'investment_products')) }}
),

renamed as (
    select
        id as investment_product_id,
        created_at,
        updated_at,
        code as investment_product_code,
        name as investment_product_name,
        term_months,
        annual_rate,
        minimum_amount,
        compounding,
        early_withdrawal_penalty_rate,
        is_active,
        (_fh_op = 'delete') as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at
    from source
)

select * from renamed
