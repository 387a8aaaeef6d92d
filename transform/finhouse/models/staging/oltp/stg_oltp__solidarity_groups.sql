-- solidarity_groups: the latest version of each row of raw.solidarity_groups, renamed; deleted rows flagged, not dropped.
with source as (
    {{ latest_version(source('oltp', 'solidarity_groups')) }}
),

renamed as (
    select
        id as group_id,
        created_at,
        updated_at,
        code as group_code,
        name as group_name,
        meeting_day,
        formed_on,
        branch_id,
        loan_officer_id as officer_id,
        (_fh_op = 'delete') as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at
    from source
)

select * from renamed
