-- Every allocation of a repayment to an installment, with the repayment's date beside the installment's
-- due date and the loan's branch, officer, product and disbursement cohort: what collection efficiency
-- measures. Scheduled amounts (principal, interest, fees) are kept apart from penalties.
with allocations as (
    select * from {{ ref('stg_oltp__loan_repayment_allocations') }} where not is_deleted
),

repayments as (
    select * from {{ ref('stg_oltp__loan_repayments') }} where not is_deleted
),

installments as (
    select * from {{ ref('stg_oltp__loan_installments') }} where not is_deleted
),

loans as (
    select * from {{ ref('stg_oltp__loans') }} where not is_deleted
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
    repayments.paid_on <= installments.due_on as is_paid_by_due_date
from allocations
inner join repayments on repayments.repayment_id = allocations.repayment_id
inner join installments on installments.installment_id = allocations.installment_id
inner join loans on loans.loan_id = installments.loan_id
