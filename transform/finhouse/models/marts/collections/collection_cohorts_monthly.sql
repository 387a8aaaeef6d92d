-- Cumulative repayment rate per disbursement cohort (the month loans were disbursed) at every month-end:
-- cumulative scheduled amounts collected against dues / cumulative scheduled amounts fallen due (docs/kpis.md).
--
-- Incremental by period: a run recomputes the months int_loans_aged_monthly rewrote since, for every
-- cohort. That model rewrites from the earliest date any input here changed on (a payment, a completed
-- installment, a disbursement or write-off, a loan moved or deleted), and a month's row sums only what is
-- dated up to its end.
-- depends_on: {{ ref('int_loans_aged_monthly') }}
{{ incremental_by_period('month_start') }}
{%- set rebuild_from = first_period_rewritten(ref('int_loans_aged_monthly')) if is_incremental() else none %}

with periods as (
    select month_start, period_end from {{ ref('int_calendar_month_ends') }}
    where {{ from_period('month_start', rebuild_from) }}
),

loans as (
    select * from {{ ref('stg_oltp__loans') }} where not is_deleted and disbursed_on is not null
),

installments as (
    select
        installments.installment_id,
        installments.due_on,
        installments.principal_due + installments.interest_due + installments.fee_due as amount_due,
        cast({{ dbt.date_trunc('month', 'loans.disbursed_on') }} as date) as cohort_month
    from {{ ref('stg_oltp__loan_installments') }} as installments
    inner join loans on loans.loan_id = installments.loan_id
    where not installments.is_deleted
      and (loans.written_off_on is null or installments.due_on <= loans.written_off_on)
),

payments as (
    select * from {{ ref('int_loan_installment_payments') }}
),

cohort_loans as (
    select
        cast({{ dbt.date_trunc('month', 'disbursed_on') }} as date) as cohort_month,
        count(*) as loans_disbursed,
        sum(amount_disbursed) as amount_disbursed
    from loans
    group by 1
),

fallen_due as (
    select installments.cohort_month, periods.month_start, sum(installments.amount_due) as cumulative_due
    from installments
    inner join periods on installments.due_on <= periods.period_end
    group by 1, 2
),

collected as (
    select payments.cohort_month, periods.month_start, sum(payments.scheduled_amount) as cumulative_collected
    from payments
    inner join periods
        on payments.due_on <= periods.period_end and payments.paid_on <= periods.period_end
    group by 1, 2
)

select
    cast(fallen_due.cohort_month as {{ dbt.type_string() }}) || ':'
        || cast(fallen_due.month_start as {{ dbt.type_string() }}) as cohort_key,
    fallen_due.cohort_month,
    fallen_due.month_start,
    cohort_loans.loans_disbursed,
    cohort_loans.amount_disbursed,
    fallen_due.cumulative_due,
    coalesce(collected.cumulative_collected, 0) as cumulative_collected,
    {{ safe_divide('coalesce(collected.cumulative_collected, 0)', 'fallen_due.cumulative_due') }}
        as cumulative_repayment_rate,
    {{ transformed_at() }} as transformed_at
from fallen_due
inner join cohort_loans on cohort_loans.cohort_month = fallen_due.cohort_month
left join collected
    on collected.cohort_month = fallen_due.cohort_month and collected.month_start = fallen_due.month_start
