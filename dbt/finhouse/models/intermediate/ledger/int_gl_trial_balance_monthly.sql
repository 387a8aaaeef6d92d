-- The general ledger's trial balance per account and month: opening balance, the month's debits and
-- credits, closing balance — on the account type's normal side (assets and expenses debit − credit, the
-- others credit − debit, so the contra-asset 1150 reads negative), as ledger.selectors.gl_balance does.
with period_ends as (
    select month_start, period_end from {{ ref('int_calendar_month_ends') }}
),

accounts as (
    select * from {{ ref('stg_oltp__gl_accounts') }} where not is_deleted
),

lines as (
    select
        lines.gl_account_id,
        entries.posted_on,
        lines.debit,
        lines.credit
    from {{ ref('stg_oltp__journal_lines') }} as lines
    inner join {{ ref('stg_oltp__journal_entries') }} as entries
        on entries.journal_entry_id = lines.journal_entry_id
    where not lines.is_deleted and not entries.is_deleted
),

monthly as (
    select
        accounts.gl_account_id,
        period_ends.month_start,
        period_ends.period_end,
        coalesce(sum(case when lines.posted_on >= period_ends.month_start then lines.debit end), 0) as period_debit,
        coalesce(sum(case when lines.posted_on >= period_ends.month_start then lines.credit end), 0) as period_credit,
        coalesce(sum(lines.debit), 0) as cumulative_debit,
        coalesce(sum(lines.credit), 0) as cumulative_credit
    from accounts
    cross join period_ends
    left join lines
        on lines.gl_account_id = accounts.gl_account_id and lines.posted_on <= period_ends.period_end
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
