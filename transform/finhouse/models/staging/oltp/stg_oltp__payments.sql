-- payments: the latest version of each row of raw.payments, renamed; deleted rows flagged, not dropped.
-- Incremental (macro incremental_by_key): a run reads only the raw rows loaded since the last one.
{{ incremental_by_key('payment_id') }}

with source as (
    {{ latest_version(source('oltp', 'payments')) }}
),

renamed as (
    select
        id as payment_id,
        created_at,
        updated_at,
        reference,
        cast(public_id as {{ dbt.type_string() }}) as public_id,
        channel,
        direction,
        purpose,
        amount,
        currency,
        status as payment_status,
        initiated_at,
        completed_at,
        provider_data,
        branch_id,
        customer_id,
        (_fh_op = 'delete') as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at,
        {{ transformed_at() }} as transformed_at
    from source
)

select * from renamed
