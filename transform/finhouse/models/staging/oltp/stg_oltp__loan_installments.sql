-- loan_installments: the latest version of each row of raw.loan_installments, renamed; deleted rows flagged, not dropped.
-- Incremental (macro incremental_by_key): a run reads only the raw rows loaded since the last one.
{{ incremental_by_key('installment_id') }}

with source as (
    {{ latest_version(source('oltp', 'loan_installments')) }}
),

renamed as (
    select
        id as installment_id,
        created_at,
        updated_at,
        number as installment_number,
        due_on,
        principal_due,
        interest_due,
        fee_due,
        penalty_due,
        principal_paid,
        interest_paid,
        fee_paid,
        penalty_paid,
        completed_on,
        superseded,
        loan_id,
        (_fh_op = 'delete') as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at,
        {{ transformed_at() }} as transformed_at
    from source
)

select * from renamed
