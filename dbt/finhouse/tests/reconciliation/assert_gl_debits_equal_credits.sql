-- The general ledger balances: Σ debits = Σ credits over every journal entry, and over all lines.
with lines as (
    select journal_entry_id, debit, credit from {{ ref('fct_journal_lines') }}
),

per_entry as (
    select cast(journal_entry_id as {{ dbt.type_string() }}) as scope, sum(debit) as debits, sum(credit) as credits
    from lines
    group by journal_entry_id
),

overall as (
    select 'all lines' as scope, sum(debit) as debits, sum(credit) as credits from lines
)

select * from per_entry where {{ cents_differ('debits', 'credits') }}
union all
select * from overall where {{ cents_differ('debits', 'credits') }}
