-- loan_recoveries: the latest version of each row of raw.loan_recoveries, renamed; deleted rows flagged, not dropped.
with source as (
    {{ latest_version(source('oltp', 'loan_recoveries')) }}
),

renamed as (
    select
        id as recovery_id,
        created_at,
        updated_at,
        recovered_on,
        amount,
        loan_id,
        payment_id,
        (_fh_op = 'delete') as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at
    from source
)

select * from renamed
