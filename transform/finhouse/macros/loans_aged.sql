{#- The position of every outstanding loan on each date of `dates` (a relation or CTE with a column
    as_of_date), rebuilt from the schedules and the dated repayment allocations — raw holds only the
    current state of installments, so what was paid by a date comes from the repayments' paid_on.

    - outstanding principal = disbursed − principal repaid by the date; a loan is outstanding on a date
      when it was disbursed by then and neither closed nor written off by then (GLP, docs/kpis.md);
    - DPD = the date − the due date of the OLDEST installment due before the date and not fully paid by
      it, never from the final maturity (macros installment_overdue and days_past_due of loan_rules.sql,
      docs/ledger.md). A superseded installment (restructure) counts until the restructure date, when it
      was closed;
    - overdue principal/interest/fees/penalties = dues of those installments − what was allocated to
      them by the date (arrears, not PAR); installments_missed = how many there are.
    A superseded installment's dues were cut to what had been paid, so before its restructure its
    overdue amount reads low (its DPD and the loan's outstanding principal are exact). -#}
{% macro loans_aged(dates) %}
loans_for_aging as (
    select
        loan_id, customer_id, branch_id, officer_id, loan_product_id, amount_disbursed,
        disbursed_on, closed_on, written_off_on
    from {{ ref('stg_oltp__loans') }}
    where not is_deleted and disbursed_on is not null
),

restructures_for_aging as (
    select loan_id, min(restructured_on) as first_restructured_on
    from {{ ref('stg_oltp__loan_restructures') }}
    where not is_deleted
    group by loan_id
),

repayments_for_aging as (
    select repayment_id, loan_id, paid_on, principal_amount
    from {{ ref('stg_oltp__loan_repayments') }}
    where not is_deleted
),

installments_for_aging as (
    select installment_id, loan_id, due_on, completed_on,
           principal_due, interest_due, fee_due, penalty_due
    from {{ ref('stg_oltp__loan_installments') }}
    where not is_deleted
),

allocations_for_aging as (
    -- The dated allocations of int_loan_installment_payments (incremental; allocations of live repayments).
    select
        installment_id,
        paid_on,
        sum(principal_amount) as principal_paid,
        sum(interest_amount) as interest_paid,
        sum(fee_amount) as fee_paid,
        sum(penalty_amount) as penalty_paid
    from {{ ref('int_loan_installment_payments') }}
    group by installment_id, paid_on
),

loan_dates as (
    select dates.as_of_date, loans_for_aging.*
    from loans_for_aging
    inner join {{ dates }} as dates
        on loans_for_aging.disbursed_on <= dates.as_of_date
        and (loans_for_aging.closed_on is null or loans_for_aging.closed_on > dates.as_of_date)
        and (loans_for_aging.written_off_on is null or loans_for_aging.written_off_on > dates.as_of_date)
),

principal_repaid as (
    select loan_dates.loan_id, loan_dates.as_of_date, sum(repayments_for_aging.principal_amount) as principal_repaid
    from loan_dates
    inner join repayments_for_aging
        on repayments_for_aging.loan_id = loan_dates.loan_id
        and repayments_for_aging.paid_on <= loan_dates.as_of_date
    group by loan_dates.loan_id, loan_dates.as_of_date
),

overdue_installments as (
    select loan_dates.loan_id, loan_dates.as_of_date, installments_for_aging.*
    from loan_dates
    inner join installments_for_aging
        on installments_for_aging.loan_id = loan_dates.loan_id
        and {{ installment_overdue('installments_for_aging', 'loan_dates.as_of_date') }}
),

overdue_paid as (
    select
        overdue_installments.installment_id,
        overdue_installments.as_of_date,
        sum(allocations_for_aging.principal_paid) as principal_paid,
        sum(allocations_for_aging.interest_paid) as interest_paid,
        sum(allocations_for_aging.fee_paid) as fee_paid,
        sum(allocations_for_aging.penalty_paid) as penalty_paid
    from overdue_installments
    inner join allocations_for_aging
        on allocations_for_aging.installment_id = overdue_installments.installment_id
        and allocations_for_aging.paid_on <= overdue_installments.as_of_date
    group by overdue_installments.installment_id, overdue_installments.as_of_date
),

overdue_by_loan as (
    select
        overdue_installments.loan_id,
        overdue_installments.as_of_date,
        min(overdue_installments.due_on) as oldest_overdue_due_on,
        count(*) as installments_missed,
        sum(overdue_installments.principal_due - coalesce(overdue_paid.principal_paid, 0)) as overdue_principal,
        sum(overdue_installments.interest_due - coalesce(overdue_paid.interest_paid, 0)) as overdue_interest,
        sum(overdue_installments.fee_due - coalesce(overdue_paid.fee_paid, 0)) as overdue_fees,
        sum(overdue_installments.penalty_due - coalesce(overdue_paid.penalty_paid, 0)) as overdue_penalties
    from overdue_installments
    left join overdue_paid
        on overdue_paid.installment_id = overdue_installments.installment_id
        and overdue_paid.as_of_date = overdue_installments.as_of_date
    group by overdue_installments.loan_id, overdue_installments.as_of_date
),

loans_aged as (
    select
        loan_dates.as_of_date,
        loan_dates.loan_id,
        loan_dates.customer_id,
        loan_dates.branch_id,
        loan_dates.officer_id,
        loan_dates.loan_product_id,
        loan_dates.disbursed_on,
        cast(loan_dates.amount_disbursed - coalesce(principal_repaid.principal_repaid, 0) as {{ dbt.type_numeric() }}) as principal_outstanding,
        coalesce(restructures_for_aging.first_restructured_on <= loan_dates.as_of_date, false) as is_restructured,
        overdue_by_loan.oldest_overdue_due_on,
        {{ days_past_due('overdue_by_loan.oldest_overdue_due_on', 'loan_dates.as_of_date') }} as days_past_due,
        coalesce(overdue_by_loan.installments_missed, 0) as installments_missed,
        coalesce(overdue_by_loan.overdue_principal, 0) as overdue_principal,
        coalesce(overdue_by_loan.overdue_interest, 0) as overdue_interest,
        coalesce(overdue_by_loan.overdue_fees, 0) as overdue_fees,
        coalesce(overdue_by_loan.overdue_penalties, 0) as overdue_penalties
    from loan_dates
    left join principal_repaid
        on principal_repaid.loan_id = loan_dates.loan_id and principal_repaid.as_of_date = loan_dates.as_of_date
    left join overdue_by_loan
        on overdue_by_loan.loan_id = loan_dates.loan_id and overdue_by_loan.as_of_date = loan_dates.as_of_date
    left join restructures_for_aging on restructures_for_aging.loan_id = loan_dates.loan_id
)
{% endmacro %}
