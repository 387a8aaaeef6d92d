-- The fixed-deposit book at every month-end, for the institution and by product (`grain`): deposits active,
-- principal (GL 2100), accrued unpaid interest (GL 2110), the month's interest expense accrued, the
-- principal-weighted average rate, and what matures within 30 and 90 days (liquidity).
with deposits as (
    select * from {{ ref('int_fixed_deposits_accrued') }}
),

periods as (
    select month_start, period_end from {{ ref('int_calendar_month_ends') }}
),

rolled as (
    select
        case when grouping(investment_product_id) = 0 then 'product' else 'institution' end as grain,
        month_start,
        investment_product_id as product_id,
        sum(case when is_active then 1 else 0 end) as deposits_active,
        sum(case when is_active then principal else 0 end) as principal,
        sum(case when is_active then accrued_unpaid else 0 end) as accrued_interest_unpaid,
        sum(accrued_in_period) as interest_accrued_in_period,
        sum(case when is_active then principal * annual_rate else 0 end) as principal_times_rate,
        sum(case when is_active and days_to_maturity <= 30 then principal else 0 end) as principal_maturing_30_days,
        sum(case when is_active and days_to_maturity <= 90 then principal else 0 end) as principal_maturing_90_days,
        sum(case when start_on between month_start and period_end then principal else 0 end)
            as principal_placed_in_period
    from deposits
    group by grouping sets ((month_start), (month_start, investment_product_id))
)

select
    rolled.grain || ':' || coalesce(cast(rolled.product_id as {{ dbt.type_string() }}), 'all') || ':'
        || cast(rolled.month_start as {{ dbt.type_string() }}) as fixed_deposit_key,
    rolled.grain,
    rolled.month_start,
    periods.period_end,
    rolled.product_id,
    products.investment_product_name as product_name,
    rolled.deposits_active,
    rolled.principal,
    rolled.accrued_interest_unpaid,
    rolled.interest_accrued_in_period,
    {{ safe_divide('rolled.principal_times_rate', 'rolled.principal') }} as weighted_average_rate,
    rolled.principal_maturing_30_days,
    rolled.principal_maturing_90_days,
    rolled.principal_placed_in_period
from rolled
inner join periods on periods.month_start = rolled.month_start
left join {{ ref('stg_oltp__investment_products') }} as products
    on products.investment_product_id = rolled.product_id
