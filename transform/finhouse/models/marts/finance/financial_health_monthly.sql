-- The SEEP / CGAP financial-health ratio set, from the general ledger (int_gl_trial_balance_monthly) and
-- the rebuilt portfolio, per month and per trailing 12 months (`period_type`). Flows are annualised
-- (× 12 / months); balance-only ratios are not. Averages are (opening + closing) / 2. docs/kpis.md:
--   OSS  = financial revenue (4xxx) / (financial expense (5000-5020) + provision expense (5100) + operating expense (52xx))
--   FSS  = financial revenue / (the same + inflation adjustment); finhouse's only adjustment is inflation:
--          var('inflation_rate') × average equity (floored at 0), for the period's share of a year (no subsidy adjustment)
--   ROA / ROE = (net operating income − taxes) / average total assets / equity, annualised (no tax is booked)
--   yield on gross portfolio = loan interest, fees and penalties (4000-4020) / average GLP, annualised;
--          real yield = (nominal − inflation) / (1 + inflation)
--   portfolio to assets = GLP / total assets; debt to equity = total liabilities / total equity
--   cost of funds = interest on savings, fixed deposits and borrowings / average of those liabilities, annualised
--   liquid ratio = cash and bank (1010-1040) / short-term liabilities (savings deposits, fixed deposits
--          maturing within 90 days, interest payable); borrowings carry no maturity in the books and are left out
--   operating expense ratio = operating expense / average GLP, annualised
--   cost per borrower = operating expense / average active borrowers, annualised
--   borrowers per loan officer = active borrowers / active loan officers at period end
--   average outstanding loan = GLP / active borrowers; average loan disbursed = disbursed / loans disbursed
-- Equity includes the net income accumulated to date (no closing entries are posted).
{%- set inflation = var('inflation_rate') %}

with periods as (
    select month_start, period_end, months_in_period from {{ ref('int_calendar_month_ends') }}
),

trial_balance as (
    select * from {{ ref('int_gl_trial_balance_monthly') }}
),

balances as (
    select
        month_start,
        sum(case when gl_type = 'asset' then closing_balance else 0 end) as total_assets,
        sum(case when gl_code in ('1010', '1020', '1030', '1040') then closing_balance else 0 end) as cash_and_bank,
        sum(case when gl_code = '1100' then closing_balance else 0 end) as gl_loan_portfolio,
        sum(case when gl_code = '1150' then -closing_balance else 0 end) as loan_loss_reserve,
        sum(case when gl_type = 'liability' then closing_balance else 0 end) as total_liabilities,
        sum(case when gl_code = '2000' then closing_balance else 0 end) as savings_deposits,
        sum(case when gl_code = '2110' then closing_balance else 0 end) as interest_payable,
        sum(case when gl_code in ('2000', '2100', '2200') then closing_balance else 0 end) as funding_liabilities,
        sum(case when gl_type = 'equity' then closing_balance
                 when gl_type = 'income' then closing_balance
                 when gl_type = 'expense' then -closing_balance else 0 end) as total_equity,
        sum(case when gl_type = 'income' then period_movement else 0 end) as financial_revenue,
        sum(case when gl_code in ('4000', '4010', '4020') then period_movement else 0 end) as loan_revenue,
        sum(case when gl_code in ('5000', '5010', '5020') then period_movement else 0 end) as financial_expense,
        sum(case when gl_code = '5100' then period_movement else 0 end) as provision_expense,
        sum(case when gl_code like '52%' then period_movement else 0 end) as operating_expense
    from trial_balance
    group by month_start
),

portfolio as (
    select month_start, sum(principal_outstanding) as gross_loan_portfolio,
           count(distinct customer_id) as active_borrowers
    from {{ ref('int_loans_aged_monthly') }}
    group by month_start
),

disbursed as (
    select disbursed_month as month_start, count(*) as loans_disbursed, sum(amount_disbursed) as amount_disbursed
    from {{ ref('fct_disbursements') }}
    group by disbursed_month
),

deposits_due_soon as (
    select month_start, sum(principal) as fixed_deposits_due_90_days
    from {{ ref('int_fixed_deposits_accrued') }}
    where is_active and days_to_maturity <= 90
    group by month_start
),

officers as (
    select periods.month_start, count(*) as loan_officers
    from {{ ref('stg_oltp__staff') }} as staff
    inner join periods
        on staff.hired_on <= periods.period_end and (staff.left_on is null or staff.left_on > periods.period_end)
    where not staff.is_deleted and staff.staff_role = 'loan_officer'
    group by periods.month_start
),

monthly as (
    select
        periods.month_start,
        periods.period_end,
        periods.months_in_period,
        balances.total_assets, balances.cash_and_bank, balances.gl_loan_portfolio, balances.loan_loss_reserve,
        balances.total_liabilities, balances.savings_deposits, balances.interest_payable,
        balances.funding_liabilities, balances.total_equity,
        balances.financial_revenue, balances.loan_revenue, balances.financial_expense,
        balances.provision_expense, balances.operating_expense,
        coalesce(portfolio.gross_loan_portfolio, 0) as gross_loan_portfolio,
        coalesce(portfolio.active_borrowers, 0) as active_borrowers,
        coalesce(disbursed.loans_disbursed, 0) as loans_disbursed,
        coalesce(disbursed.amount_disbursed, 0) as amount_disbursed,
        coalesce(deposits_due_soon.fixed_deposits_due_90_days, 0) as fixed_deposits_due_90_days,
        coalesce(officers.loan_officers, 0) as loan_officers
    from periods
    inner join balances on balances.month_start = periods.month_start
    left join portfolio on portfolio.month_start = periods.month_start
    left join disbursed on disbursed.month_start = periods.month_start
    left join deposits_due_soon on deposits_due_soon.month_start = periods.month_start
    left join officers on officers.month_start = periods.month_start
),

windowed as (
    select
        monthly.*,
        {%- for column in ['total_assets', 'total_equity', 'gross_loan_portfolio', 'funding_liabilities',
                           'active_borrowers'] %}
        coalesce(lag({{ column }}) over (order by month_start), 0) as opening_{{ column }}_month,
        coalesce(lag({{ column }}, 12) over (order by month_start), 0) as opening_{{ column }}_12m,
        {%- endfor %}
        {%- for column in ['financial_revenue', 'loan_revenue', 'financial_expense', 'provision_expense',
                           'operating_expense', 'loans_disbursed', 'amount_disbursed', 'months_in_period'] %}
        sum({{ column }}) over (order by month_start rows between 11 preceding and current row) as {{ column }}_12m,
        {%- endfor %}
        count(*) over (order by month_start rows between 11 preceding and current row) as months_counted_12m
    from monthly
),

periods_out as (
    {%- for period_type, suffix, months in [('month', 'month', 'months_in_period'),
                                            ('trailing_12_months', '12m', 'months_in_period_12m')] %}
    select
        '{{ period_type }}' as period_type,
        {%- if suffix == 'month' %}
        month_start as period_start,
        {%- else %}
        cast({{ dbt.dateadd('month', -11, 'month_start') }} as date) as period_start,
        {%- endif %}
        period_end,
        {{ months }} as months,
        total_assets, cash_and_bank, gl_loan_portfolio, loan_loss_reserve, total_liabilities, savings_deposits,
        interest_payable, fixed_deposits_due_90_days, funding_liabilities, total_equity, gross_loan_portfolio,
        active_borrowers, loan_officers,
        {%- for column in ['financial_revenue', 'loan_revenue', 'financial_expense', 'provision_expense',
                           'operating_expense', 'loans_disbursed', 'amount_disbursed'] %}
        {{ column }}{{ '' if suffix == 'month' else '_12m' }} as {{ column }},
        {%- endfor %}
        {%- for column in ['total_assets', 'total_equity', 'gross_loan_portfolio', 'funding_liabilities'] %}
        {{ money('(opening_' ~ column ~ '_' ~ suffix ~ ' + ' ~ column ~ ') / 2.0') }} as average_{{ column }},
        {%- endfor %}
        (opening_active_borrowers_{{ suffix }} + active_borrowers) / 2.0 as average_active_borrowers
    from windowed
    {%- if suffix == '12m' %}
    where months_counted_12m = 12
    {%- endif %}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

ratios as (
    select
        periods_out.*,
        financial_revenue - financial_expense - provision_expense - operating_expense as net_operating_income,
        -- no negative adjustment when equity is negative (losses beyond capital): inflation erodes nothing then
        {{ money('greatest(' ~ inflation ~ ' * average_total_equity * months / 12.0, 0)') }} as inflation_adjustment
    from periods_out
)

select
    period_type || ':' || cast(period_end as {{ dbt.type_string() }}) as financial_health_key,
    ratios.*,
    -- Self-sufficiency over costs that are not positive (a month in progress whose provision release
    -- exceeds its expenses so far) means nothing: null, not a large negative ratio.
    {%- set costs = 'financial_expense + provision_expense + operating_expense' %}
    {{ safe_divide('financial_revenue', 'case when ' ~ costs ~ ' > 0 then ' ~ costs ~ ' end') }}
        as operational_self_sufficiency,
    {{ safe_divide('financial_revenue',
                   'case when ' ~ costs ~ ' + inflation_adjustment > 0 then ' ~ costs ~ ' + inflation_adjustment end') }}
        as financial_self_sufficiency,
    {{ annualise(safe_divide('net_operating_income', 'average_total_assets'), 'months') }} as return_on_assets,
    {{ annualise(safe_divide('net_operating_income', 'average_total_equity'), 'months') }} as return_on_equity,
    {{ annualise(safe_divide('loan_revenue', 'average_gross_loan_portfolio'), 'months') }} as yield_on_gross_portfolio,
    ({{ annualise(safe_divide('loan_revenue', 'average_gross_loan_portfolio'), 'months') }} - {{ inflation }})
        / (1 + {{ inflation }}) as real_yield_on_gross_portfolio,
    {{ safe_divide('gross_loan_portfolio', 'total_assets') }} as portfolio_to_assets,
    {{ annualise(safe_divide('financial_expense', 'average_funding_liabilities'), 'months') }} as cost_of_funds,
    {{ safe_divide('total_liabilities', 'total_equity') }} as debt_to_equity,
    {{ safe_divide('cash_and_bank', 'savings_deposits + fixed_deposits_due_90_days + interest_payable') }}
        as liquid_ratio,
    {{ annualise(safe_divide('operating_expense', 'average_gross_loan_portfolio'), 'months') }}
        as operating_expense_ratio,
    {{ money(annualise(safe_divide('operating_expense', 'average_active_borrowers'), 'months')) }} as cost_per_borrower,
    {{ safe_divide('active_borrowers', 'loan_officers') }} as borrowers_per_loan_officer,
    {{ money(safe_divide('gross_loan_portfolio', 'active_borrowers')) }} as average_outstanding_loan,
    {{ money(safe_divide('amount_disbursed', 'loans_disbursed')) }} as average_loan_disbursed
from ratios
