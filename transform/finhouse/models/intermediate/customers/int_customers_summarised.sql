-- One row per customer: the financial summary as of the as-of date — loans taken and outstanding, worst
-- days past due, repayment behaviour, interest and fees paid, savings and fixed-deposit balances.
with as_of as (
    select as_of_date from {{ ref('int_calendar_as_of') }}
),

customers as (
    -- soft-deleted customers stay (their loans still point at them); keys fhload saw hard-deleted do not
    select * from {{ ref('stg_oltp__customers') }} where customer_number is not null
),

loans as (
    select * from {{ ref('stg_oltp__loans') }} where not is_deleted and disbursed_on is not null
),

loans_aged as (
    select * from {{ ref('int_loans_aged') }}
),

repayments as (
    select repayments.*
    from {{ ref('stg_oltp__loan_repayments') }} as repayments
    cross join as_of
    where not repayments.is_deleted and repayments.paid_on <= as_of.as_of_date
),

installments_aged as (
    select * from {{ ref('int_loan_installments_aged') }}
),

savings as (
    select * from {{ ref('int_savings_accounts_balanced_monthly') }}
    where period_end = (select as_of_date from as_of)
),

deposits as (
    select * from {{ ref('int_fixed_deposits_accrued') }}
    where period_end = (select as_of_date from as_of) and is_active
),

loan_summary as (
    select
        loans.customer_id,
        count(*) as loans_disbursed,
        sum(loans.amount_disbursed) as amount_disbursed,
        min(loans.disbursed_on) as first_disbursed_on,
        max(loans.disbursed_on) as last_disbursed_on,
        max(loans.cycle) as loan_cycle,
        sum(case when loans.written_off_on <= as_of.as_of_date then 1 else 0 end) as loans_written_off,
        sum(case when loans.closed_on <= as_of.as_of_date then 1 else 0 end) as loans_closed,
        max(loans.closed_on) as last_closed_on
    from loans
    cross join as_of
    where loans.disbursed_on <= as_of.as_of_date
    group by loans.customer_id
),

outstanding_summary as (
    select
        customer_id,
        count(*) as loans_outstanding,
        sum(principal_outstanding) as principal_outstanding,
        max(days_past_due) as max_days_past_due,
        sum(overdue_principal) as overdue_principal,
        sum(principal_outstanding * provision_rate) as expected_loss
    from loans_aged
    group by customer_id
),

income_summary as (
    select
        loans.customer_id,
        sum(repayments.interest_amount) as interest_paid,
        sum(repayments.fee_amount + repayments.penalty_amount) as penalties_paid,
        count(*) as repayments_made
    from repayments
    inner join loans on loans.loan_id = repayments.loan_id
    group by loans.customer_id
),

fees_summary as (
    select loans.customer_id, sum(loans.fee_amount) as upfront_fees
    from loans
    cross join as_of
    where loans.disbursed_on <= as_of.as_of_date
    group by loans.customer_id
),

punctuality as (
    select
        loans.customer_id,
        sum(case when installments_aged.due_on < as_of.as_of_date then 1 else 0 end) as installments_fallen_due,
        sum(case when installments_aged.due_on < as_of.as_of_date
                  and installments_aged.completed_on <= installments_aged.due_on then 1 else 0 end)
            as installments_paid_on_time
    from installments_aged
    cross join as_of
    inner join loans on loans.loan_id = installments_aged.loan_id
    where not installments_aged.is_superseded
    group by loans.customer_id
),

savings_summary as (
    select customer_id,
           sum(case when is_open then 1 else 0 end) as savings_accounts_open,
           sum(balance) as savings_balance
    from savings
    group by customer_id
),

deposit_summary as (
    select customer_id, count(*) as fixed_deposits_active, sum(principal) as fixed_deposit_principal
    from deposits
    group by customer_id
)

select
    customers.customer_id,
    customers.branch_id,
    customers.officer_id,
    as_of.as_of_date,
    coalesce(loan_summary.loans_disbursed, 0) as loans_disbursed,
    coalesce(loan_summary.amount_disbursed, 0) as amount_disbursed,
    loan_summary.first_disbursed_on,
    loan_summary.last_disbursed_on,
    loan_summary.last_closed_on,
    coalesce(loan_summary.loan_cycle, 0) as loan_cycle,
    coalesce(loan_summary.loans_closed, 0) as loans_closed,
    coalesce(loan_summary.loans_written_off, 0) as loans_written_off,
    coalesce(outstanding_summary.loans_outstanding, 0) as loans_outstanding,
    coalesce(outstanding_summary.principal_outstanding, 0) as principal_outstanding,
    coalesce(outstanding_summary.max_days_past_due, 0) as max_days_past_due,
    coalesce(outstanding_summary.overdue_principal, 0) as overdue_principal,
    coalesce(outstanding_summary.expected_loss, 0) as expected_loss,
    coalesce(income_summary.interest_paid, 0) as interest_paid,
    coalesce(income_summary.penalties_paid, 0) + coalesce(fees_summary.upfront_fees, 0) as fees_paid,
    coalesce(income_summary.repayments_made, 0) as repayments_made,
    coalesce(punctuality.installments_fallen_due, 0) as installments_fallen_due,
    coalesce(punctuality.installments_paid_on_time, 0) as installments_paid_on_time,
    coalesce(savings_summary.savings_accounts_open, 0) as savings_accounts_open,
    coalesce(savings_summary.savings_balance, 0) as savings_balance,
    coalesce(deposit_summary.fixed_deposits_active, 0) as fixed_deposits_active,
    coalesce(deposit_summary.fixed_deposit_principal, 0) as fixed_deposit_principal
from customers
cross join as_of
left join loan_summary on loan_summary.customer_id = customers.customer_id
left join outstanding_summary on outstanding_summary.customer_id = customers.customer_id
left join income_summary on income_summary.customer_id = customers.customer_id
left join fees_summary on fees_summary.customer_id = customers.customer_id
left join punctuality on punctuality.customer_id = customers.customer_id
left join savings_summary on savings_summary.customer_id = customers.customer_id
left join deposit_summary on deposit_summary.customer_id = customers.customer_id
