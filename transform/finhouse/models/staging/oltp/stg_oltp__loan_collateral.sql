-- loan_collateral: the latest version of each row of raw.loan_collateral, renamed; deleted rows flagged, not dropped.
with source as (
    {{ latest_version(source('oltp', 'loan_collateral')) }}
),

renamed as (
    select
        id as collateral_id,
        created_at,
        updated_at,
        deleted_at,
        kind as collateral_kind,
        description,
        value,
        loan_id,
        (_fh_op = 'delete' or deleted_at is not null) as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at
    from source
)

select * from renamed
