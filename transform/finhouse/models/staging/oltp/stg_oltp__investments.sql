-- investments: the latest version of each row of raw.investments, renamed; deleted rows flagged, not dropped.
with source as (
    {{ latest_version(source('oltp', 'investments')) }}
),

renamed as (
    select
        id as investment_id,
        created_at,
        updated_at,
        investment_number,
        principal,
        annual_rate,
        start_on,
        maturity_on,
        status as investment_status,
        closed_on,
        branch_id,
        customer_id,
        payout_account_id,
        product_id as investment_product_id,
        (_fh_op = 'delete') as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at
    from source
)

select * from renamed
