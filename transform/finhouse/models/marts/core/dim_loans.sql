-- One row per loan (every application), with its terms, life dates and position on the as-of date
-- (outstanding principal, days past due from the oldest unpaid installment, arrears, aging bucket).
with loans as (
    select * from {{ ref('stg_oltp__loans') }} where not is_deleted
),

aged as (
    select * from {{ ref('int_loans_aged') }}
),

restructures as (
    select loan_id, count(*) as restructure_count, min(restructured_on) as first_restructured_on
    from {{ ref('stg_oltp__loan_restructures') }}
    where not is_deleted
    group by loan_id
)

select
    loans.loan_id,
    loans.loan_number,
    loans.customer_id,
    loans.group_id,
    loans.loan_product_id as product_id,
    loans.officer_id,
    loans.branch_id,
    loans.cycle as loan_cycle,
    loans.purpose,
    loans.loan_status,
    loans.amount_applied,
    loans.amount_approved,
    loans.amount_disbursed,
    loans.fee_amount,
    loans.annual_rate,
    loans.interest_method,
    loans.frequency,
    loans.term,
    loans.applied_on,
    loans.approved_on,
    loans.rejected_on,
    loans.disbursed_on,
    loans.closed_on,
    loans.written_off_on,
    cast({{ dbt.date_trunc('month', 'loans.disbursed_on') }} as date) as cohort_month,
    coalesce(restructures.restructure_count, 0) as restructure_count,
    restructures.first_restructured_on,
    aged.loan_id is not null as is_outstanding,
    coalesce(aged.principal_outstanding, 0) as principal_outstanding,
    coalesce(aged.days_past_due, 0) as days_past_due,
    coalesce(aged.dpd_bucket, 'not outstanding') as dpd_bucket,
    coalesce(aged.installments_missed, 0) as installments_missed,
    coalesce(aged.overdue_principal, 0) as overdue_principal,
    coalesce(aged.overdue_interest, 0) as overdue_interest,
    aged.oldest_overdue_due_on
from loans
left join aged on aged.loan_id = loans.loan_id
left join restructures on restructures.loan_id = loans.loan_id
