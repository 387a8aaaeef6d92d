-- The sub-ledger identities of docs/ledger.md, at every month-end: GL 2000 = Σ savings balances (from the
-- savings ledger); GL 2100 = Σ principal of active fixed deposits; GL 2110 = their accrued unpaid earnings.
with gl as (
    select month_start,
           sum(case when gl_code = '2000' then closing_balance else 0 end) as gl_savings,
           sum(case when gl_code = '2100' then closing_balance else 0 end) as gl_deposits,
           sum(case when gl_code = '2110' then closing_balance else 0 end) as gl_payable
    from {{ ref('int_gl_trial_balance_monthly') }}
    group by month_start
),

savings as (
    select month_start, sum(balance) as savings from {{ ref('int_savings_accounts_balanced_monthly') }} group by month_start
),

deposits as (
    select month_start,
           sum(case when is_active then principal else 0 end) as deposits,
           sum(case when is_active then accrued_unpaid else 0 end) as payable
    from {{ ref('int_fixed_deposits_accrued') }}
    group by month_start
)

select gl.*, savings.savings, deposits.deposits, deposits.payable
from gl
left join savings on savings.month_start = gl.month_start
left join deposits on deposits.month_start = gl.month_start
where {{ cents_differ('gl.gl_savings', 'savings.savings') }}
   or {{ cents_differ('gl.gl_deposits', 'deposits.deposits') }}
   or {{ cents_differ('gl.gl_payable', 'deposits.payable') }}
