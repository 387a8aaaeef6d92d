-- branches: the latest version of each row of raw.branches, renamed; deleted rows flagged, not dropped.
with source as (
    {{ latest_version(source('oltp', 'branches')) }}
),

renamed as (
    select
        id as branch_id,
        created_at,
        updated_at,
        code as branch_code,
        name as branch_name,
        region,
        opened_on,
        (_fh_op = 'delete') as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at
    from source
)

select * from renamed
