-- Loans disbursed per month, for the institution and by branch, loan officer and product (`grain`): count,
-- amount, average loan disbursed (amount / number, docs/kpis.md), first loans vs repeat loans, upfront fees.
with disbursements as (
    select * from {{ ref('fct_disbursements') }}
),

periods as (
    select month_start, period_end from {{ ref('int_calendar_month_ends') }}
),

rolled as (
    select
        case
            when grouping(branch_id) = 0 then 'branch'
            when grouping(officer_id) = 0 then 'officer'
            when grouping(product_id) = 0 then 'product'
            else 'institution'
        end as grain,
        disbursed_month as month_start,
        branch_id,
        officer_id,
        product_id,
        count(*) as loans_disbursed,
        sum(amount_disbursed) as amount_disbursed,
        sum(case when is_first_loan then 1 else 0 end) as first_loans_disbursed,
        sum(case when is_first_loan then 0 else 1 end) as repeat_loans_disbursed,
        sum(case when is_first_loan then amount_disbursed else 0 end) as first_loans_amount,
        sum(fee_amount) as fees_charged,
        avg(cast(loan_cycle as {{ dbt.type_numeric() }})) as average_loan_cycle
    from disbursements
    group by grouping sets (
        (disbursed_month),
        (disbursed_month, branch_id),
        (disbursed_month, officer_id),
        (disbursed_month, product_id)
    )
)

select
    rolled.grain
        || ':' || coalesce(cast(coalesce(rolled.branch_id, rolled.officer_id, rolled.product_id)
                                as {{ dbt.type_string() }}), 'all')
        || ':' || cast(rolled.month_start as {{ dbt.type_string() }}) as disbursement_key,
    rolled.*,
    {{ money(safe_divide('rolled.amount_disbursed', 'rolled.loans_disbursed')) }} as average_loan_disbursed
from rolled
inner join periods on periods.month_start = rolled.month_start
