-- staff: the latest version of each row of raw.staff, renamed; deleted rows flagged, not dropped.
with source as (
    {{ latest_version(source('oltp', 'staff')) }}
),

renamed as (
    select
        id as staff_id,
        created_at,
        updated_at,
        employee_number,
        role as staff_role,
        hired_on,
        left_on,
        branch_id,
        user_id,
        (_fh_op = 'delete') as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at
    from source
)

select * from renamed
