-- loan_repayment_allocations: the latest version of each row of raw.loan_repayment_allocations, renamed; deleted rows flagged, not dropped.
-- Incremental (macro incremental_by_key): a run reads only the raw rows loaded since the last one.
{{ incremental_by_key('allocation_id') }}

with source as (
    {{ latest_version(source('oltp', 'loan_repayment_allocations')) }}
),

renamed as (
    select
        id as allocation_id,
        created_at,
        updated_at,
        principal_amount,
        interest_amount,
        fee_amount,
        penalty_amount,
        installment_id,
        repayment_id,
        (_fh_op = 'delete') as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at,
        {{ transformed_at() }} as transformed_at
    from source
)

select * from renamed
