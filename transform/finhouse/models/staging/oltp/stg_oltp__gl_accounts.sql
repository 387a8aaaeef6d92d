-- gl_accounts: the latest version of each row of raw.gl_accounts, renamed; deleted rows flagged, not dropped.
with source as (
    {{ latest_version(source('oltp', 'gl_accounts')) }}
),

renamed as (
    select
        id as gl_account_id,
        created_at,
        updated_at,
        code as gl_code,
        name as gl_name,
        type as gl_type,
        is_active,
        (_fh_op = 'delete') as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at
    from source
)

select * from renamed
