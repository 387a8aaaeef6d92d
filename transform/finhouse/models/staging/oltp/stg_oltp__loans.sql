-- loans: the latest version of each row of raw.loans, renamed; deleted rows flagged, not dropped.
with source as (
    {{ latest_version(source('oltp', 'loans')) }}
),

renamed as (
    select
        id as loan_id,
        created_at,
        updated_at,
        loan_number,
        cast(public_id as {{ dbt.type_string() }}) as public_id,
        cycle,
        purpose,
        amount_applied,
        amount_approved,
        amount_disbursed,
        fee_amount,
        annual_rate,
        interest_method,
        frequency,
        term,
        status as loan_status,
        applied_on,
        approved_on,
        rejected_on,
        disbursed_on,
        closed_on,
        written_off_on,
        principal_outstanding,
        branch_id,
        customer_id,
        disbursement_account_id,
        group_id,
        officer_id,
        product_id as loan_product_id,
        (_fh_op = 'delete') as is_deleted,
        _fh_load_id as load_id,
        _fh_loaded_at as loaded_at
    from source
)

select * from renamed
