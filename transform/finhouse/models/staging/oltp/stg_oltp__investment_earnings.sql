-- investment_earnings: the latest version of each row of raw.investment_earnings, renamed; deleted rows flagged, not dropped.
with source as (
    {{ latest_version(source('oltp', 'investment_earnings')) }}
),

renamed as (
    select
        id as earning_id,
        created_at,
        updated_at,
        period_start,
        period_end,
        amount,
        accrued_on,
        paid_on,
        investment_id,
        (_fh_op = 'delete') as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at
    from source
)

select * from renamed
