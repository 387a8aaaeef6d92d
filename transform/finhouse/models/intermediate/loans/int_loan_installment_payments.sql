-- Every allocation of a repayment to an installment, with the repayment's date beside the installment's
-- due date and the loan's branch, officer, product and disbursement cohort: what collection efficiency
-- measures. Scheduled amounts (principal, interest, fees) are kept apart from penalties.
-- Incremental: a run rewrites the allocations loaded since the last run, those of repayments loaded since,
-- and those whose installment (loan, due date) or loan (branch, officer, product, disbursement) changed.
{{ incremental_by_key('allocation_id') }}

with allocations as {{ inlined() }} (
    select * from {{ ref('stg_oltp__loan_repayment_allocations') }} where not is_deleted
),

repayments as {{ inlined() }} (
    select * from {{ ref('stg_oltp__loan_repayments') }} where not is_deleted
),

installments as {{ inlined() }} (
    select * from {{ ref('stg_oltp__loan_installments') }} where not is_deleted
),

loans as {{ inlined() }} (
    select * from {{ ref('stg_oltp__loans') }} where not is_deleted
),

{%- if is_incremental() %}
{%- set watermark = incremental_watermark('source_load_id') %}

-- Every branch starts from rows loaded after the watermark: no join here reads two big tables in full.
changed as (
    select allocation_id from allocations where load_id > {{ watermark }}
    union
    select allocation_id from allocations
    where repayment_id in (select repayment_id from repayments where load_id > {{ watermark }})
    union
    select stored.allocation_id
    from {{ this }} as stored
    inner join installments on installments.installment_id = stored.installment_id
    where installments.load_id > {{ watermark }}
      and (installments.loan_id <> stored.loan_id or installments.due_on <> stored.due_on)
    union
    select stored.allocation_id
    from {{ this }} as stored
    inner join loans on loans.loan_id = stored.loan_id
    where loans.load_id > {{ watermark }}
      and (loans.branch_id <> stored.branch_id or loans.officer_id <> stored.officer_id
           or loans.loan_product_id <> stored.loan_product_id
           or cast({{ dbt.date_trunc('month', 'loans.disbursed_on') }} as date) <> stored.cohort_month)
),
{%- endif %}

to_write as (
    select * from allocations {{ restricted_to('allocation_id', 'changed') }}
),

repayments_to_join as (
    select * from repayments {{ restricted_to('repayment_id', 'to_write') }}
),

installments_to_join as (
    select * from installments {{ restricted_to('installment_id', 'to_write') }}
)

select
    allocations.allocation_id,
    allocations.repayment_id,
    allocations.installment_id,
    installments.loan_id,
    loans.branch_id,
    loans.officer_id,
    loans.loan_product_id,
    cast({{ dbt.date_trunc('month', 'loans.disbursed_on') }} as date) as cohort_month,
    installments.due_on,
    repayments.paid_on,
    allocations.principal_amount,
    allocations.interest_amount,
    allocations.fee_amount,
    allocations.penalty_amount,
    allocations.principal_amount + allocations.interest_amount + allocations.fee_amount as scheduled_amount,
    repayments.paid_on <= installments.due_on as is_paid_by_due_date,
    greatest(allocations.load_id, repayments.load_id) as source_load_id,
    {{ transformed_at() }} as transformed_at
from to_write as allocations
inner join repayments_to_join as repayments on repayments.repayment_id = allocations.repayment_id
inner join installments_to_join as installments on installments.installment_id = allocations.installment_id
inner join loans on loans.loan_id = installments.loan_id
