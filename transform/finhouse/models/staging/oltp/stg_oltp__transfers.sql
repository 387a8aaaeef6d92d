-- transfers: the latest version of each row of raw.transfers, renamed; deleted rows flagged, not dropped.
with source as (
    {{ latest_version(source('oltp', 'transfers')) }}
),

renamed as (
    select
        id as transfer_id,
        created_at,
        updated_at,
        reference,
        amount,
        transferred_at,
        from_account_id,
        to_account_id,
        (_fh_op = 'delete') as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at
    from source
)

select * from renamed
