-- savings_products: the latest version of each row of raw.savings_products, renamed; deleted rows flagged, not dropped.
with source as (
    {{ latest_version(source('oltp', 'savings_products')) }}
),

renamed as (
    select
        id as savings_product_id,
        created_at,
        updated_at,
        code as savings_product_code,
        name as savings_product_name,
        kind,
        interest_rate,
        minimum_balance,
        monthly_fee,
        withdrawal_fee,
        is_active,
        (_fh_op = 'delete') as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at
    from source
)

select * from renamed
