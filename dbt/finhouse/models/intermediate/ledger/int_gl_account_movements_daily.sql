-- Each general-ledger account's debits and credits per posting day (reversals included: they net out), the
-- base of the trial balance. Incremental: a run recomputes, from every line, the days that have lines or
-- entries loaded since the last run; the other days cannot have changed (journal lines are immutable and
-- an entry's posting date is fixed, docs/ledger.md).
{{ config(
    materialized='incremental',
    unique_key=['gl_account_id', 'posted_on'],
    incremental_strategy='delete+insert',
    on_schema_change='fail'
) }}

with lines as (
    select * from {{ ref('stg_oltp__journal_lines') }} where not is_deleted
),

entries as (
    select * from {{ ref('stg_oltp__journal_entries') }} where not is_deleted
),

{%- if is_incremental() %}

watermark as (
    select coalesce(max(source_loaded_at), cast('1900-01-01' as {{ dbt.type_timestamp() }})) as loaded_at
    from {{ this }}
),

touched_days as (
    select posted_on from entries where loaded_at > (select loaded_at from watermark)
    union
    select entries.posted_on
    from lines
    inner join entries on entries.journal_entry_id = lines.journal_entry_id
    where lines.loaded_at > (select loaded_at from watermark)
),
{%- endif %}

posted as (
    select
        lines.gl_account_id,
        entries.posted_on,
        lines.debit,
        lines.credit,
        greatest(lines.loaded_at, entries.loaded_at) as loaded_at
    from lines
    inner join entries on entries.journal_entry_id = lines.journal_entry_id
    {%- if is_incremental() %}
    where entries.posted_on in (select posted_on from touched_days)
    {%- endif %}
)

select
    gl_account_id,
    posted_on,
    sum(debit) as debit,
    sum(credit) as credit,
    count(*) as lines,
    max(loaded_at) as source_loaded_at,
    {{ transformed_at() }} as transformed_at
from posted
group by gl_account_id, posted_on
