-- Each general-ledger account's debits and credits per posting day (reversals included: they net out), the
-- base of the trial balance. Incremental: a run recomputes, from every line, the days that have lines or
-- entries loaded since the last run; the other days cannot have changed (journal lines are immutable and
-- an entry's posting date is fixed, docs/ledger.md).
{{ incremental_by_key(['gl_account_id', 'posted_on']) }}

with lines as {{ inlined() }} (
    select * from {{ ref('stg_oltp__journal_lines') }} where not is_deleted
),

entries as {{ inlined() }} (
    select * from {{ ref('stg_oltp__journal_entries') }} where not is_deleted
),

{%- if is_incremental() %}
{%- set watermark = incremental_watermark('source_load_id') %}

touched_days as (
    select posted_on from entries where load_id > {{ watermark }}
    union
    select posted_on from entries
    where journal_entry_id in (select journal_entry_id from lines where load_id > {{ watermark }})
),
{%- endif %}

{# Incremental: the entries of the touched days first, then their lines: the join reads a few days, not
    the journal. -#}
entries_to_sum as (
    select * from entries {{ restricted_to('posted_on', 'touched_days') }}
),

lines_to_sum as (
    select * from lines {{ restricted_to('journal_entry_id', 'entries_to_sum') }}
),

posted as (
    select
        lines.gl_account_id,
        entries.posted_on,
        lines.debit,
        lines.credit,
        greatest(lines.load_id, entries.load_id) as load_id
    from lines_to_sum as lines
    inner join entries_to_sum as entries on entries.journal_entry_id = lines.journal_entry_id
)

select
    gl_account_id,
    posted_on,
    sum(debit) as debit,
    sum(credit) as credit,
    count(*) as lines,
    max(load_id) as source_load_id,
    {{ transformed_at() }} as transformed_at
from posted
group by gl_account_id, posted_on
