-- group_memberships: the latest version of each row of raw.group_memberships, renamed; deleted rows flagged, not dropped.
with source as (
    {{ latest_version(source('oltp', 'group_memberships')) }}
),

renamed as (
    select
        id as membership_id,
        created_at,
        updated_at,
        deleted_at,
        role,
        joined_on,
        left_on,
        customer_id,
        group_id,
        (_fh_op = 'delete' or deleted_at is not null) as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at
    from source
)

select * from renamed
