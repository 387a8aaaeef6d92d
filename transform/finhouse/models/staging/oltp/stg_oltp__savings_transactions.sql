-- savings_transactions: the latest version of each row of raw.savings_transactions, renamed; deleted rows flagged, not dropped.
-- Incremental (macro incremental_by_key): a run reads only the raw rows loaded since the last one.
{{ incremental_by_key('savings_transaction_id') }}

with source as (
    {{ latest_version(source('oltp', 'savings_transactions')) }}
),

renamed as (
    select
        id as savings_transaction_id,
        created_at,
        updated_at,
        amount,
        balance_after,
        channel,
        reference,
        value_date,
        posted_at,
        account_id,
        payment_id,
        reversal_of_id,
        type_id as transaction_type_id,
        transfer_id,
        (_fh_op = 'delete') as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at,
        {{ transformed_at() }} as transformed_at
    from source
)

select * from renamed
