-- One row per general-ledger journal line, with its entry (date, kind, branch, the business row it books)
-- and account. Reversal entries and the entries they reverse are flagged.
with lines as (
    select * from {{ ref('stg_oltp__journal_lines') }} where not is_deleted
),

entries as (
    select * from {{ ref('stg_oltp__journal_entries') }} where not is_deleted
),

accounts as (
    select * from {{ ref('stg_oltp__gl_accounts') }} where not is_deleted
),

reversed as (
    select distinct reversal_of_id as journal_entry_id from entries where reversal_of_id is not null
)

select
    lines.journal_line_id,
    lines.journal_entry_id,
    entries.posted_on,
    cast({{ dbt.date_trunc('month', 'entries.posted_on') }} as date) as posted_month,
    entries.entry_kind,
    entries.branch_id,
    entries.source_type,
    entries.source_id,
    accounts.gl_code,
    accounts.gl_name,
    accounts.gl_type,
    lines.debit,
    lines.credit,
    entries.reversal_of_id is not null as is_reversal,
    reversed.journal_entry_id is not null as is_reversed
from lines
inner join entries on entries.journal_entry_id = lines.journal_entry_id
inner join accounts on accounts.gl_account_id = lines.gl_account_id
left join reversed on reversed.journal_entry_id = lines.journal_entry_id
