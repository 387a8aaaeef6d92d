-- audit_log: the audit trail (corebanking/audit), one row per recorded change; append-only in the OLTP, so the
-- latest version of a row is its only one. The action is named, not numbered. Left out: object_repr and
-- changes (they carry customers' names and identifiers verbatim; RAW keeps them for whoever may read it).
with source as (
    {{ latest_version(source('oltp', 'audit_log')) }}
),

renamed as (
    select
        id as audit_entry_id,
        created_at as logged_at,
        {{ local_timestamp('created_at') }} as logged_at_local,
        source,
        case action when 0 then 'create' when 1 then 'update' when 2 then 'delete' when 3 then 'access' end
            as action,
        actor_id,
        actor_username,
        remote_addr,
        object_model,
        object_id,
        object_pk,
        (_fh_op = 'delete') as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at
    from source
)

select * from renamed
