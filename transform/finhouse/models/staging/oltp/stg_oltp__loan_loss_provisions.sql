-- loan_loss_provisions: the latest version of each row of raw.loan_loss_provisions, renamed; deleted rows flagged, not dropped.
with source as (
    {{ latest_version(source('oltp', 'loan_loss_provisions')) }}
),

renamed as (
    select
        id as provision_id,
        created_at,
        updated_at,
        provisioned_on,
        required_reserve,
        expense_amount,
        policy,
        (_fh_op = 'delete') as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at
    from source
)

select * from renamed
