-- The general ledger's trial balance per account and month: opening balance, the month's debits and
-- credits, closing balance — on the account type's normal side (assets and expenses debit − credit, the
-- others credit − debit, so the contra-asset 1150 reads negative), as ledger.selectors.gl_balance does.
-- Summed from the daily movements (int_gl_account_movements_daily), which are maintained incrementally.
with period_ends as (
    select month_start, period_end from {{ ref('int_calendar_month_ends') }}
),

accounts as (
    select * from {{ ref('stg_oltp__gl_accounts') }} where not is_deleted
),

movements as (
    select gl_account_id, posted_on, debit, credit from {{ ref('int_gl_account_movements_daily') }}
),

monthly as (
    select
        accounts.gl_account_id,
        period_ends.month_start,
        period_ends.period_end,
        coalesce(sum(case when movements.posted_on >= period_ends.month_start then movements.debit end), 0)
            as period_debit,
        coalesce(sum(case when movements.posted_on >= period_ends.month_start then movements.credit end), 0)
            as period_credit,
        coalesce(sum(movements.debit), 0) as cumulative_debit,
        coalesce(sum(movements.credit), 0) as cumulative_credit
    from accounts
    cross join period_ends
    left join movements
        on movements.gl_account_id = accounts.gl_account_id and movements.posted_on <= period_ends.period_end
    group by accounts.gl_account_id, period_ends.month_start, period_ends.period_end
)

select
    monthly.month_start,
    monthly.period_end,
    accounts.gl_account_id,
    accounts.gl_code,
    accounts.gl_name,
    accounts.gl_type,
    case when accounts.gl_type in ('asset', 'expense') then 1 else -1 end as normal_sign,
    monthly.period_debit,
    monthly.period_credit,
    monthly.cumulative_debit,
    monthly.cumulative_credit,
    case when accounts.gl_type in ('asset', 'expense')
         then monthly.cumulative_debit - monthly.cumulative_credit
         else monthly.cumulative_credit - monthly.cumulative_debit end as closing_balance,
    case when accounts.gl_type in ('asset', 'expense')
         then monthly.period_debit - monthly.period_credit
         else monthly.period_credit - monthly.period_debit end as period_movement,
    case when accounts.gl_type in ('asset', 'expense')
         then (monthly.cumulative_debit - monthly.period_debit) - (monthly.cumulative_credit - monthly.period_credit)
         else (monthly.cumulative_credit - monthly.period_credit) - (monthly.cumulative_debit - monthly.period_debit)
    end as opening_balance
from monthly
inner join accounts on accounts.gl_account_id = monthly.gl_account_id
