-- Portfolio quality at every month-end (and on the as-of date for the month in progress), for the
-- institution and by branch, loan officer and product (`grain`). PAR>N = the WHOLE outstanding principal
-- of loans with DPD > N (DPD from the oldest unpaid installment) / GLP, published plain, including
-- restructured loans (CGAP: + renegotiated portfolio) and excluding them; aging buckets; the arrears rate
-- (overdue principal / GLP — a different, smaller number than PAR); installments missed; and, beside PAR,
-- the month's write-offs and the annualised write-off ratio on average GLP (docs/kpis.md).
--
-- Incremental by period: a run recomputes the months int_loans_aged_monthly rewrote since (a write-off
-- changes its loan's write-off date, so that model rewrites its month too); the opening GLP of the first
-- of them is the one stored for the month before.
{{ incremental_by_period('month_start') }}
{%- set rebuild_from = first_period_rewritten(ref('int_loans_aged_monthly')) if is_incremental() else none %}

with aged as (
    select * from {{ ref('int_loans_aged_monthly') }}
    where {{ from_period('month_start', rebuild_from) }}
),

periods as (
    select month_start, period_end, months_in_period from {{ ref('int_calendar_month_ends') }}
    where {{ from_period('month_start', rebuild_from) }}
),

write_offs as (
    select
        periods.month_start,
        loans.branch_id,
        loans.officer_id,
        loans.loan_product_id,
        write_offs.principal_amount
    from {{ ref('stg_oltp__loan_write_offs') }} as write_offs
    inner join {{ ref('stg_oltp__loans') }} as loans on loans.loan_id = write_offs.loan_id
    inner join periods
        on write_offs.written_off_on between periods.month_start and periods.period_end
    where not write_offs.is_deleted
),

facts as (
    select
        month_start, branch_id, officer_id, loan_product_id, customer_id,
        principal_outstanding, days_past_due, is_restructured, installments_missed, overdue_principal,
        dpd_bucket, 1 as is_loan, cast(0 as {{ dbt.type_numeric() }}) as written_off_principal
    from aged
    union all
    select
        month_start, branch_id, officer_id, loan_product_id, null as customer_id,
        0, 0, false, 0, 0, null, 0, principal_amount
    from write_offs
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
        sum(is_loan) as active_loans,
        count(distinct customer_id) as active_borrowers,
        sum(principal_outstanding) as gross_loan_portfolio,
        {%- for n in [1, 30, 60, 90, 180] %}
        sum(case when days_past_due > {{ n }} then principal_outstanding else 0 end) as par_{{ n }}_principal,
        sum(case when days_past_due > {{ n }} or is_restructured then principal_outstanding else 0 end)
            as par_{{ n }}_incl_restructured_principal,
        sum(case when days_past_due > {{ n }} and not is_restructured then principal_outstanding else 0 end)
            as par_{{ n }}_excl_restructured_principal,
        sum(case when days_past_due > {{ n }} then is_loan else 0 end) as par_{{ n }}_loans,
        {%- endfor %}
        sum(case when is_restructured then principal_outstanding else 0 end) as restructured_principal,
        sum(case when is_restructured then is_loan else 0 end) as restructured_loans,
        {%- for bucket, label in [('current', 'current'), ('1-30', '1_30'), ('31-60', '31_60'), ('61-90', '61_90'),
                                  ('91-180', '91_180'), ('181-360', '181_360'), ('>360', 'over_360')] %}
        sum(case when dpd_bucket = '{{ bucket }}' then principal_outstanding else 0 end)
            as bucket_{{ label }}_principal,
        sum(case when dpd_bucket = '{{ bucket }}' then is_loan else 0 end) as bucket_{{ label }}_loans,
        {%- endfor %}
        sum(overdue_principal) as overdue_principal,
        sum(installments_missed) as installments_missed,
        sum(case when installments_missed = 1 then 1 else 0 end) as loans_missing_1_installment,
        sum(case when installments_missed between 2 and 3 then 1 else 0 end) as loans_missing_2_3_installments,
        sum(case when installments_missed >= 4 then 1 else 0 end) as loans_missing_4_plus_installments,
        sum(written_off_principal) as written_off_principal
    from facts
    group by grouping sets (
        (month_start),
        (month_start, branch_id),
        (month_start, officer_id),
        (month_start, loan_product_id)
    )
),

{%- if is_incremental() %}

stored_before as (
    -- each grain's latest stored month before the first one recomputed: the opening of that one
    select grain, branch_id, officer_id, product_id, month_start, gross_loan_portfolio
    from {{ this }}
    where month_start < {{ rebuild_from or "cast('1900-01-01' as date)" }}
    qualify row_number() over (
        partition by grain, coalesce(branch_id, officer_id, product_id, -1) order by month_start desc) = 1
),
{%- endif %}

glp_by_month as (
    -- a grain's member: the branch, officer or product (one of them is set, none for the institution)
    select grain, coalesce(branch_id, officer_id, product_id, -1) as member_id, month_start, gross_loan_portfolio
    from rolled
    {%- if is_incremental() %}
    union all
    select grain, coalesce(branch_id, officer_id, product_id, -1), month_start, gross_loan_portfolio
    from stored_before
    {%- endif %}
),

openings as (
    select
        grain, member_id, month_start,
        lag(gross_loan_portfolio) over (partition by grain, member_id order by month_start)
            as opening_gross_loan_portfolio
    from glp_by_month
),

with_opening as (
    select rolled.*, openings.opening_gross_loan_portfolio
    from rolled
    inner join openings
        on openings.grain = rolled.grain
        and openings.member_id = coalesce(rolled.branch_id, rolled.officer_id, rolled.product_id, -1)
        and openings.month_start = rolled.month_start
)

select
    with_opening.grain
        || ':' || coalesce(cast(coalesce(with_opening.branch_id, with_opening.officer_id, with_opening.product_id)
                                as {{ dbt.type_string() }}), 'all')
        || ':' || cast(with_opening.month_start as {{ dbt.type_string() }}) as par_key,
    with_opening.grain,
    with_opening.month_start,
    periods.period_end,
    with_opening.branch_id,
    with_opening.officer_id,
    with_opening.product_id,
    with_opening.active_loans,
    with_opening.active_borrowers,
    with_opening.gross_loan_portfolio,
    {%- for n in [1, 30, 60, 90, 180] %}
    with_opening.par_{{ n }}_principal,
    with_opening.par_{{ n }}_loans,
    {{ safe_divide('with_opening.par_' ~ n ~ '_principal', 'with_opening.gross_loan_portfolio') }} as par_{{ n }}_ratio,
    {{ safe_divide('with_opening.par_' ~ n ~ '_incl_restructured_principal', 'with_opening.gross_loan_portfolio') }}
        as par_{{ n }}_incl_restructured_ratio,
    {{ safe_divide('with_opening.par_' ~ n ~ '_excl_restructured_principal', 'with_opening.gross_loan_portfolio') }}
        as par_{{ n }}_excl_restructured_ratio,
    {%- endfor %}
    with_opening.restructured_principal,
    with_opening.restructured_loans,
    {{ safe_divide('with_opening.restructured_principal', 'with_opening.gross_loan_portfolio') }} as restructured_ratio,
    {%- for label in ['current', '1_30', '31_60', '61_90', '91_180', '181_360', 'over_360'] %}
    with_opening.bucket_{{ label }}_principal,
    with_opening.bucket_{{ label }}_loans,
    {%- endfor %}
    with_opening.par_90_principal as non_performing_principal,
    with_opening.par_90_loans as non_performing_loans,
    with_opening.overdue_principal,
    {{ safe_divide('with_opening.overdue_principal', 'with_opening.gross_loan_portfolio') }} as arrears_rate,
    with_opening.installments_missed,
    with_opening.loans_missing_1_installment,
    with_opening.loans_missing_2_3_installments,
    with_opening.loans_missing_4_plus_installments,
    with_opening.written_off_principal,
    {{ money('(coalesce(with_opening.opening_gross_loan_portfolio, 0) + with_opening.gross_loan_portfolio) / 2') }}
        as average_gross_loan_portfolio,
    {{ annualise(safe_divide('with_opening.written_off_principal',
        '(coalesce(with_opening.opening_gross_loan_portfolio, 0) + with_opening.gross_loan_portfolio) / 2'),
        'periods.months_in_period') }} as write_off_ratio_annualised,
    {{ transformed_at() }} as transformed_at
from with_opening
inner join periods on periods.month_start = with_opening.month_start
