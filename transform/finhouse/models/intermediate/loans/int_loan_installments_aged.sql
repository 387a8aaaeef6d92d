-- Every installment of every disbursed loan on the as-of date: what was due, what had been paid by then
-- (from dated allocations), what is overdue, and how many days late it is (as-of − due date while it is
-- not fully paid). An installment due on the as-of date is not yet late.
--
-- Incremental (macro incremental_by_key): an installment's row changes when the installment or its
-- allocations change, or when the as-of date moves while it is open and due before the new date (it is,
-- or becomes, late) or it was completed after the old date; a run rewrites those. Every other row (the
-- paid installments, the ones not due yet) stays as stored. The as-of date is not a column for that
-- reason: it is int_calendar_as_of's. When the as-of date moves back, every row is rewritten.
{{ incremental_by_key('installment_id') }}

with as_of as (
    select as_of_date from {{ ref('int_calendar_as_of') }}
),

{%- if is_incremental() %}

stored as (
    -- the as-of date of the stored rows, and when they were written
    select max(computed_as_of) as as_of_date, max(transformed_at) as written_at from {{ this }}
),

to_rewrite as (
    select installment_id from {{ ref('stg_oltp__loan_installments') }}
    where transformed_at > (select written_at from stored)
    union
    select installment_id from {{ ref('int_loan_installment_payments') }}
    where transformed_at > (select written_at from stored)
    union
    select installment_id from {{ this }}
    where is_open and due_on < (select as_of_date from as_of)
      and (select as_of_date from stored) <> (select as_of_date from as_of)
    union
    select installment_id from {{ ref('stg_oltp__loan_installments') }}
    where completed_on > (select as_of_date from stored) and completed_on <= (select as_of_date from as_of)
    union
    select installment_id from {{ ref('stg_oltp__loan_installments') }}
    where (select as_of_date from as_of) < (select as_of_date from stored)
),
{%- endif %}

installments as (
    select * from {{ ref('stg_oltp__loan_installments') }}
    where not is_deleted
    {%- if is_incremental() %}
      and installment_id in (select installment_id from to_rewrite)
    {%- endif %}
),

paid_by_as_of as (
    -- Dated allocations come from int_loan_installment_payments (incremental), not a join of the
    -- 4M allocations with their repayments each run.
    select
        payments.installment_id,
        sum(payments.principal_amount) as principal_paid,
        sum(payments.interest_amount) as interest_paid,
        sum(payments.fee_amount) as fee_paid,
        sum(payments.penalty_amount) as penalty_paid,
        max(payments.paid_on) as last_paid_on
    from {{ ref('int_loan_installment_payments') }} as payments
    cross join as_of
    where payments.paid_on <= as_of.as_of_date
    {%- if is_incremental() %}
      and payments.installment_id in (select installment_id from installments)
    {%- endif %}
    group by payments.installment_id
),

aged as (
    select
        installments.installment_id,
        installments.loan_id,
        installments.installment_number,
        installments.due_on,
        installments.superseded as is_superseded,
        as_of.as_of_date as computed_as_of,
        installments.principal_due,
        installments.interest_due,
        installments.fee_due,
        installments.penalty_due,
        coalesce(paid_by_as_of.principal_paid, 0) as principal_paid,
        coalesce(paid_by_as_of.interest_paid, 0) as interest_paid,
        coalesce(paid_by_as_of.fee_paid, 0) as fee_paid,
        coalesce(paid_by_as_of.penalty_paid, 0) as penalty_paid,
        paid_by_as_of.last_paid_on,
        case when installments.completed_on <= as_of.as_of_date then installments.completed_on end as completed_on,
        (installments.completed_on is null or installments.completed_on > as_of.as_of_date) as is_open,
        {{ installment_overdue('installments', 'as_of.as_of_date') }} as is_overdue
    from installments
    cross join as_of
    left join paid_by_as_of on paid_by_as_of.installment_id = installments.installment_id
)

select
    aged.*,
    case when aged.is_overdue then aged.principal_due - aged.principal_paid else 0 end as overdue_principal,
    case when aged.is_overdue then aged.interest_due - aged.interest_paid else 0 end as overdue_interest,
    case when aged.is_overdue then aged.fee_due - aged.fee_paid else 0 end as overdue_fees,
    case when aged.is_overdue then aged.penalty_due - aged.penalty_paid else 0 end as overdue_penalties,
    case when aged.is_overdue then {{ dbt.datediff('aged.due_on', 'aged.computed_as_of', 'day') }} else 0 end
        as days_late,
    {{ transformed_at() }} as transformed_at
from aged
