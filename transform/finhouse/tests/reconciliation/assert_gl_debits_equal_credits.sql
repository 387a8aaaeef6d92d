-- The general ledger balances: Σ debits = Σ credits over every journal entry, and over all lines.
-- In `dbt build`, the entries checked one by one are those with lines this build wrote (macro
-- fh_scoped_to_this_build: the others were checked when written); the sum over all lines is always taken.
with lines as (
    select journal_entry_id, debit, credit from {{ ref('fct_journal_lines') }}
),

per_entry as (
    select cast(journal_entry_id as {{ dbt.type_string() }}) as scope, sum(debit) as debits, sum(credit) as credits
    from lines
    {%- if fh_scoped_to_this_build(ref('fct_journal_lines')) %}
    where journal_entry_id in (select journal_entry_id from {{ get_where_subquery(ref('fct_journal_lines')) }})
    {%- endif %}
    group by journal_entry_id
),

overall as (
    select 'all lines' as scope, sum(debit) as debits, sum(credit) as credits from lines
)

select * from per_entry where {{ cents_differ('debits', 'credits') }}
union all
select * from overall where {{ cents_differ('debits', 'credits') }}
