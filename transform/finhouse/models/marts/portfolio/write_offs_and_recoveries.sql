-- Write-offs and recoveries per period — month, calendar year (to date for the current one) and trailing
-- 12 months — for the institution and by branch and product (`grain`), docs/kpis.md:
--   write-off ratio     = value written off in the period / average GLP, annualised (× 12 / months)
--   loan loss rate      = (write-offs − recoveries) / average GLP, annualised
--   risk coverage ratio = loan-loss reserve (GL 1150, institution only) / PAR>30 principal
-- Average GLP = (opening + closing) / 2, opening being the GLP at the end of the previous period (docs/kpis.md's
-- default); the mean of the period's month-end GLPs is published beside it, with the write-off ratio on it.
{%- set grains = [('institution', []), ('branch', ['branch_id']), ('product', ['product_id'])] %}

with periods as (
    select month_start, period_end, months_in_period,
           cast({{ dbt.date_trunc('year', 'month_start') }} as date) as year_start
    from {{ ref('int_calendar_month_ends') }}
),

loans as (
    select loan_id, branch_id, loan_product_id as product_id from {{ ref('stg_oltp__loans') }} where not is_deleted
),

portfolio as (
    select month_start, branch_id, loan_product_id as product_id,
           sum(principal_outstanding) as glp,
           sum(case when days_past_due > 30 then principal_outstanding else 0 end) as par_30_principal
    from {{ ref('int_loans_aged_monthly') }}
    group by 1, 2, 3
),

write_offs as (
    select periods.month_start, loans.branch_id, loans.product_id,
           sum(write_offs.principal_amount) as written_off_principal,
           count(*) as loans_written_off
    from {{ ref('stg_oltp__loan_write_offs') }} as write_offs
    inner join loans on loans.loan_id = write_offs.loan_id
    inner join periods on write_offs.written_off_on between periods.month_start and periods.period_end
    where not write_offs.is_deleted
    group by 1, 2, 3
),

recoveries as (
    select periods.month_start, loans.branch_id, loans.product_id, sum(recoveries.amount) as recovered_amount
    from {{ ref('stg_oltp__loan_recoveries') }} as recoveries
    inner join loans on loans.loan_id = recoveries.loan_id
    inner join periods on recoveries.recovered_on between periods.month_start and periods.period_end
    where not recoveries.is_deleted
    group by 1, 2, 3
),

reserve as (
    select month_start, -closing_balance as loan_loss_reserve
    from {{ ref('int_gl_trial_balance_monthly') }}
    where gl_code = '1150'
),

base_keys as (
    select month_start, branch_id, product_id from portfolio
    union select month_start, branch_id, product_id from write_offs
    union select month_start, branch_id, product_id from recoveries
),

base as (
    select
        base_keys.month_start, base_keys.branch_id, base_keys.product_id,
        coalesce(portfolio.glp, 0) as glp,
        coalesce(portfolio.par_30_principal, 0) as par_30_principal,
        coalesce(write_offs.written_off_principal, 0) as written_off_principal,
        coalesce(write_offs.loans_written_off, 0) as loans_written_off,
        coalesce(recoveries.recovered_amount, 0) as recovered_amount
    from base_keys
    left join portfolio using (month_start, branch_id, product_id)
    left join write_offs using (month_start, branch_id, product_id)
    left join recoveries using (month_start, branch_id, product_id)
),

{%- for grain, columns in grains %}
monthly_{{ grain }} as (
    -- every period of the calendar, so that lags and windows count months, not rows
    select
        '{{ grain }}' as grain,
        periods.month_start, periods.year_start, periods.period_end, periods.months_in_period,
        {%- if 'branch_id' in columns %} keys.branch_id, {% else %} cast(null as bigint) as branch_id, {% endif %}
        {%- if 'product_id' in columns %} keys.product_id, {% else %} cast(null as bigint) as product_id, {% endif %}
        coalesce(sum(base.glp), 0) as glp,
        coalesce(sum(base.par_30_principal), 0) as par_30_principal,
        coalesce(sum(base.written_off_principal), 0) as written_off_principal,
        coalesce(sum(base.loans_written_off), 0) as loans_written_off,
        coalesce(sum(base.recovered_amount), 0) as recovered_amount
    from periods
    cross join (select distinct {{ (columns | join(', ')) if columns else '1 as all_rows' }} from base) as keys
    -- base again: the subquery above reads it in its own scope
    left join base  -- noqa: AL04
        on base.month_start = periods.month_start
        {%- for column in columns %} and base.{{ column }} = keys.{{ column }}{% endfor %}
    group by 1, 2, 3, 4, 5, 6, 7
),
{%- endfor %}

monthly as (
    {%- for grain, columns in grains %}
    select * from monthly_{{ grain }}{% if not loop.last %} union all{% endif %}
    {%- endfor %}
),

windowed as (
    select
        monthly.*,
        lag(glp) over (partition by grain, branch_id, product_id order by month_start) as opening_glp_month,
        lag(glp, 12) over (partition by grain, branch_id, product_id order by month_start) as opening_glp_12m,
        sum(written_off_principal) over (partition by grain, branch_id, product_id order by month_start
                                         rows between 11 preceding and current row) as written_off_12m,
        sum(recovered_amount) over (partition by grain, branch_id, product_id order by month_start
                                    rows between 11 preceding and current row) as recovered_12m,
        sum(loans_written_off) over (partition by grain, branch_id, product_id order by month_start
                                     rows between 11 preceding and current row) as loans_written_off_12m,
        sum(months_in_period) over (partition by grain, branch_id, product_id order by month_start
                                    rows between 11 preceding and current row) as months_12m,
        row_number() over (partition by grain, branch_id, product_id, year_start order by month_start desc)
            as month_rank_in_year,
        sum(written_off_principal) over (partition by grain, branch_id, product_id, year_start) as written_off_year,
        sum(recovered_amount) over (partition by grain, branch_id, product_id, year_start) as recovered_year,
        sum(loans_written_off) over (partition by grain, branch_id, product_id, year_start) as loans_written_off_year,
        sum(months_in_period) over (partition by grain, branch_id, product_id, year_start) as months_year,
        first_value(glp) over (partition by grain, branch_id, product_id, year_start order by month_start)
            as first_glp_year,
        avg(glp) over (partition by grain, branch_id, product_id order by month_start
                       rows between 11 preceding and current row) as mean_glp_12m,
        avg(glp) over (partition by grain, branch_id, product_id, year_start) as mean_glp_year
    from monthly
),

with_year_opening as (
    select
        windowed.*,
        -- the GLP at the end of the previous calendar year: the lag of the year's first month
        lag(glp) over (partition by grain, branch_id, product_id order by month_start) as previous_month_glp
    from windowed
),

year_openings as (
    select grain, branch_id, product_id, year_start, previous_month_glp as opening_glp_year
    from with_year_opening
    where month_start = year_start
),

periods_out as (
    select 'month' as period_type, grain, month_start as period_start, period_end, branch_id, product_id,
           months_in_period as months, opening_glp_month as opening_glp, glp as closing_glp, par_30_principal,
           written_off_principal, loans_written_off, recovered_amount,
           (coalesce(opening_glp_month, 0) + glp) / 2.0 as mean_month_end_glp
    from windowed
    union all
    select 'trailing_12_months', grain, cast({{ dbt.dateadd('month', -11, 'month_start') }} as date), period_end,
           branch_id, product_id,
           months_12m, opening_glp_12m, glp, par_30_principal,
           written_off_12m, loans_written_off_12m, recovered_12m, mean_glp_12m
    from windowed
    where months_12m >= 11
    union all
    select 'year', windowed.grain, windowed.year_start, windowed.period_end, windowed.branch_id, windowed.product_id,
           windowed.months_year, year_openings.opening_glp_year, windowed.glp, windowed.par_30_principal,
           windowed.written_off_year, windowed.loans_written_off_year, windowed.recovered_year,
           windowed.mean_glp_year
    from windowed
    left join year_openings
        on year_openings.grain = windowed.grain
        and year_openings.year_start = windowed.year_start
        and coalesce(year_openings.branch_id, -1) = coalesce(windowed.branch_id, -1)
        and coalesce(year_openings.product_id, -1) = coalesce(windowed.product_id, -1)
    where windowed.month_rank_in_year = 1
)

select
    periods_out.period_type || ':' || periods_out.grain || ':'
        || coalesce(cast(coalesce(periods_out.branch_id, periods_out.product_id) as {{ dbt.type_string() }}), 'all')
        || ':' || cast(periods_out.period_end as {{ dbt.type_string() }}) as write_off_key,
    periods_out.period_type,
    periods_out.grain,
    periods_out.period_start,
    periods_out.period_end,
    periods_out.branch_id,
    periods_out.product_id,
    periods_out.months,
    coalesce(periods_out.opening_glp, 0) as opening_gross_loan_portfolio,
    periods_out.closing_glp as closing_gross_loan_portfolio,
    {{ money('(coalesce(periods_out.opening_glp, 0) + periods_out.closing_glp) / 2') }} as average_gross_loan_portfolio,
    {{ money('periods_out.mean_month_end_glp') }} as mean_month_end_gross_loan_portfolio,
    periods_out.written_off_principal,
    periods_out.loans_written_off,
    periods_out.recovered_amount,
    periods_out.written_off_principal - periods_out.recovered_amount as net_loan_loss,
    {%- set average_glp = '(coalesce(periods_out.opening_glp, 0) + periods_out.closing_glp) / 2' %}
    {{ annualise(safe_divide('periods_out.written_off_principal', average_glp), 'periods_out.months') }}
        as write_off_ratio_annualised,
    {{ annualise(safe_divide('periods_out.written_off_principal', 'periods_out.mean_month_end_glp'),
                 'periods_out.months') }} as write_off_ratio_on_month_end_mean_annualised,
    {{ annualise(safe_divide('periods_out.written_off_principal - periods_out.recovered_amount', average_glp),
                 'periods_out.months') }} as loan_loss_rate_annualised,
    periods_out.par_30_principal,
    case when periods_out.grain = 'institution' then reserve.loan_loss_reserve end as loan_loss_reserve,
    case when periods_out.grain = 'institution'
         then {{ safe_divide('reserve.loan_loss_reserve', 'periods_out.par_30_principal') }} end as risk_coverage_ratio
from periods_out
left join periods on periods.period_end = periods_out.period_end
left join reserve on reserve.month_start = periods.month_start
