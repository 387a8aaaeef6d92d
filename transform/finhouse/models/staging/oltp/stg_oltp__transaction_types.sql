-- transaction_types: the latest version of each row of raw.transaction_types, renamed; deleted rows flagged, not dropped.
with source as (
    {{ latest_version(source('oltp', 'transaction_types')) }}
),

renamed as (
    select
        id as transaction_type_id,
        created_at,
        updated_at,
        code as transaction_type_code,
        name as transaction_type_name,
        direction,
        (_fh_op = 'delete') as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at
    from source
)

select * from renamed
