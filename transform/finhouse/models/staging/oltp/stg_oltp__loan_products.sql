-- loan_products: the latest version of each row of raw.loan_products, renamed; deleted rows flagged, not dropped.
with source as (
    {{ latest_version(source('oltp', 'loan_products')) }}
),

renamed as (
    select
        id as loan_product_id,
        created_at,
        updated_at,
        code as loan_product_code,
        name as loan_product_name,
        lending_type,
        interest_method,
        annual_rate,
        frequency,
        min_term,
        max_term,
        min_amount,
        max_amount,
        fee_rate,
        penalty_rate,
        penalty_grace_days,
        grace_period_days,
        is_active,
        (_fh_op = 'delete') as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at
    from source
)

select * from renamed
