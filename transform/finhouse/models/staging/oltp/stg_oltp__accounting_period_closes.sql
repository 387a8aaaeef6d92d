-- accounting_period_closes: the latest version of each row of raw.accounting_period_closes, renamed; deleted rows
-- flagged, not dropped. The books are closed through the greatest closed_through.
with source as (
    {{ latest_version(source('oltp', 'accounting_period_closes')) }}
),

renamed as (
    select
        id as period_close_id,
        created_at,
        updated_at,
        closed_through,
        closed_by_id as closed_by_user_id,
        note,
        total_debits,
        total_credits,
        (_fh_op = 'delete') as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at
    from source
)

select * from renamed
