-- loan_restructures: the latest version of each row of raw.loan_restructures, renamed; deleted rows flagged, not dropped.
with source as (
    {{ latest_version(source('oltp', 'loan_restructures')) }}
),

renamed as (
    select
        id as restructure_id,
        created_at,
        updated_at,
        restructured_on,
        principal_outstanding,
        old_term,
        new_term,
        old_rate,
        new_rate,
        reason,
        loan_id,
        (_fh_op = 'delete') as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at
    from source
)

select * from renamed
