-- savings_accounts: the latest version of each row of raw.savings_accounts, renamed; deleted rows flagged, not dropped.
with source as (
    {{ latest_version(source('oltp', 'savings_accounts')) }}
),

renamed as (
    select
        id as account_id,
        created_at,
        updated_at,
        account_number,
        status as account_status,
        opened_on,
        closed_on,
        balance,
        branch_id,
        customer_id,
        product_id as savings_product_id,
        (_fh_op = 'delete') as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at
    from source
)

select * from renamed
