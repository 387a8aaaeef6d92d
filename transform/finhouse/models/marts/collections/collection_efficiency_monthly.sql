-- Collection efficiency per month, for the institution and by branch, loan officer and product (`grain`),
-- on scheduled amounts (principal + interest + fees; penalties apart), docs/kpis.md:
--   on-time repayment rate        = due in the period and paid in full by its due date / due in the period
--   current collection efficiency = collected (by the period end) against amounts due in the period /
--                                   due in the period — payments towards later installments (prepayments)
--                                   are not current collections
--   total collection efficiency   = (current + arrears collections) / (due in the period + opening arrears)
-- Dues of written-off loans after their write-off date are not dues. Superseded installments (restructures)
-- count with their dues cut to what was paid on them.
-- Rows meet their period by an equality on the month (a hash join), not a range join: periods are calendar
-- months, and the in-progress one ends on the as-of date.
--
-- Incremental by period: a run recomputes the months int_loans_aged_monthly rewrote since. That model
-- rewrites from the earliest date any input of this one changed on (a payment's date, an installment
-- completed, a loan moved or written off, the month in progress), and a month here reads only what is
-- dated in it or before it: its dues, what was paid for them by its end, its receipts, the arrears at
-- the end of the month before.
{{ incremental_by_period('month_start') }}
{%- set rebuild_from = first_period_rewritten(ref('int_loans_aged_monthly')) if is_incremental() else none %}

with periods as (
    select month_start, period_end, previous_period_end from {{ ref('int_calendar_month_ends') }}
    where {{ from_period('month_start', rebuild_from) }}
),

loans as (
    select * from {{ ref('stg_oltp__loans') }} where not is_deleted
),

installments as (
    select installments.*, loans.branch_id, loans.officer_id, loans.loan_product_id
    from {{ ref('stg_oltp__loan_installments') }} as installments
    inner join loans on loans.loan_id = installments.loan_id
    where not installments.is_deleted
      and (loans.written_off_on is null or installments.due_on <= loans.written_off_on)
      and {{ from_period('installments.due_on', rebuild_from) }}
),

payments as (
    select * from {{ ref('int_loan_installment_payments') }}
    -- in an incremental run, the payments for the dues of the months recomputed or received in them
    where {{ from_period('due_on', rebuild_from) }} or {{ from_period('paid_on', rebuild_from) }}
),

aged as (
    select * from {{ ref('int_loans_aged_monthly') }}
    where {{ from_period(dbt.dateadd('month', 1, 'month_start'), rebuild_from) }}
),

dues as (
    select
        periods.month_start, installments.branch_id, installments.officer_id, installments.loan_product_id,
        installments.principal_due + installments.interest_due + installments.fee_due as amount_due,
        case when installments.completed_on <= installments.due_on
             then installments.principal_due + installments.interest_due + installments.fee_due else 0 end
            as amount_paid_on_time,
        cast(0 as {{ dbt.type_numeric() }}) as current_collections,
        cast(0 as {{ dbt.type_numeric() }}) as arrears_collections,
        cast(0 as {{ dbt.type_numeric() }}) as prepayments,
        cast(0 as {{ dbt.type_numeric() }}) as opening_arrears
    from installments
    inner join periods
        on periods.month_start = cast({{ dbt.date_trunc('month', 'installments.due_on') }} as date)
       and installments.due_on <= periods.period_end
),

current_collections as (
    select
        periods.month_start, payments.branch_id, payments.officer_id, payments.loan_product_id,
        0, 0, payments.scheduled_amount, 0, 0, 0
    from payments
    inner join periods
        on periods.month_start = cast({{ dbt.date_trunc('month', 'payments.due_on') }} as date)
       and payments.due_on <= periods.period_end
    where payments.paid_on <= periods.period_end
),

period_receipts as (
    select
        periods.month_start, payments.branch_id, payments.officer_id, payments.loan_product_id,
        0, 0, 0,
        case when payments.due_on < periods.month_start then payments.scheduled_amount else 0 end,
        case when payments.due_on > periods.period_end then payments.scheduled_amount else 0 end,
        0
    from payments
    inner join periods
        on periods.month_start = cast({{ dbt.date_trunc('month', 'payments.paid_on') }} as date)
       and payments.paid_on <= periods.period_end
),

opening_arrears as (
    select
        periods.month_start, aged.branch_id, aged.officer_id, aged.loan_product_id,
        0, 0, 0, 0, 0,
        aged.overdue_principal + aged.overdue_interest + aged.overdue_fees
    from aged
    inner join periods on aged.as_of_date = periods.previous_period_end
),

facts as (
    select * from dues
    union all select * from current_collections
    union all select * from period_receipts
    union all select * from opening_arrears
),

rolled as (
    select
        case
            when grouping(branch_id) = 0 then 'branch'
            when grouping(officer_id) = 0 then 'officer'
            when grouping(loan_product_id) = 0 then 'product'
            else 'institution'
        end as grain,
        month_start,
        branch_id,
        officer_id,
        loan_product_id as product_id,
        sum(amount_due) as amount_due,
        sum(amount_paid_on_time) as amount_paid_on_time,
        sum(current_collections) as current_collections,
        sum(arrears_collections) as arrears_collections,
        sum(prepayments) as prepayments,
        sum(opening_arrears) as opening_arrears
    from facts
    group by grouping sets (
        (month_start),
        (month_start, branch_id),
        (month_start, officer_id),
        (month_start, loan_product_id)
    )
)

select
    rolled.grain
        || ':' || coalesce(cast(coalesce(rolled.branch_id, rolled.officer_id, rolled.product_id)
                                as {{ dbt.type_string() }}), 'all')
        || ':' || cast(rolled.month_start as {{ dbt.type_string() }}) as collection_key,
    rolled.grain,
    rolled.month_start,
    periods.period_end,
    rolled.branch_id,
    rolled.officer_id,
    rolled.product_id,
    rolled.amount_due,
    rolled.amount_paid_on_time,
    rolled.current_collections,
    rolled.arrears_collections,
    rolled.prepayments,
    rolled.opening_arrears,
    {{ safe_divide('rolled.amount_paid_on_time', 'rolled.amount_due') }} as on_time_repayment_rate,
    {{ safe_divide('rolled.current_collections', 'rolled.amount_due') }} as current_collection_efficiency,
    {{ safe_divide('rolled.current_collections + rolled.arrears_collections',
                   'rolled.amount_due + rolled.opening_arrears') }} as total_collection_efficiency,
    {{ transformed_at() }} as transformed_at
from rolled
inner join periods on periods.month_start = rolled.month_start
