-- Customer lifetime value on the as-of date. Formula:
--   lifetime_value = realised_income + expected_income − expected_loss
--     realised_income = interest + fees + penalties received on the customer's loans to date (upfront fees
--                       included) − interest the institution paid on the customer's savings and deposits
--     expected_income = the scheduled interest still to come on the customer's outstanding loans
--                       (interest due − interest paid on open installments of the current schedule)
--     expected_loss   = Σ outstanding principal × the provisioning policy's rate for the loan's DPD bucket
--                       (loans.selectors.PROVISION_POLICY: 0 / 10 / 25 / 50 / 100 %)
with summary as (
    select * from {{ ref('int_customers_summarised') }}
),

installments as (
    select * from {{ ref('int_loan_installments_aged') }}
),

outstanding as (
    select loan_id, customer_id from {{ ref('int_loans_aged') }}
),

expected_interest as (
    select outstanding.customer_id, sum(installments.interest_due - installments.interest_paid) as expected_income
    from installments
    inner join outstanding on outstanding.loan_id = installments.loan_id
    where installments.is_open and not installments.is_superseded
    group by outstanding.customer_id
),

savings_interest as (
    select transactions.customer_id, sum(transactions.amount) as interest_paid_to_customer
    from {{ ref('fct_savings_transactions') }} as transactions
    cross join {{ ref('int_calendar_as_of') }} as as_of
    where transactions.transaction_type_code = 'interest' and transactions.value_date <= as_of.as_of_date
    group by transactions.customer_id
),

deposit_interest as (
    select investments.customer_id, sum(earnings.amount) as interest_paid_to_customer
    from {{ ref('stg_oltp__investment_earnings') }} as earnings
    inner join {{ ref('stg_oltp__investments') }} as investments
        on investments.investment_id = earnings.investment_id
    cross join {{ ref('int_calendar_as_of') }} as as_of
    where not earnings.is_deleted and earnings.accrued_on <= as_of.as_of_date
    group by investments.customer_id
),

valued as (
    select
        summary.customer_id,
        summary.branch_id,
        summary.as_of_date,
        summary.loans_disbursed,
        summary.interest_paid + summary.fees_paid as loan_income,
        coalesce(savings_interest.interest_paid_to_customer, 0)
            + coalesce(deposit_interest.interest_paid_to_customer, 0) as deposit_interest_expense,
        coalesce(expected_interest.expected_income, 0) as expected_income,
        summary.expected_loss
    from summary
    left join expected_interest on expected_interest.customer_id = summary.customer_id
    left join savings_interest on savings_interest.customer_id = summary.customer_id
    left join deposit_interest on deposit_interest.customer_id = summary.customer_id
)

select
    valued.*,
    valued.loan_income - valued.deposit_interest_expense as realised_income,
    valued.loan_income - valued.deposit_interest_expense + valued.expected_income - valued.expected_loss
        as lifetime_value
from valued
