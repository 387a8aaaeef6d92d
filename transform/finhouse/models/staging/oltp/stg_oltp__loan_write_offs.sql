-- loan_write_offs: the latest version of each row of raw.loan_write_offs, renamed; deleted rows flagged, not dropped.
with source as (
    {{ latest_version(source('oltp', 'loan_write_offs')) }}
),

renamed as (
    select
        id as write_off_id,
        created_at,
        updated_at,
        written_off_on,
        principal_amount,
        interest_amount,
        reason,
        loan_id,
        (_fh_op = 'delete') as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at
    from source
)

select * from renamed
