{#- Incremental models keyed by a unique key: how the big tables are kept up to date without rebuilding
    them. The period-end models (month-end positions) are in incremental_by_period.sql; how the tests of
    incremental models read only the rows a build wrote is in test_scope.sql (and at the top of the README).

    The staging models of the big, append-mostly raw tables (journal lines and entries, payments, savings
    transactions, installments, repayments, allocations) and the facts and daily aggregates built on them
    are incremental: a run reads only the raw rows of the loads after the newest load the model holds
    (macro latest_version) and replaces those keys (delete+insert). Every row records the dbt invocation
    that wrote it in `transformed_at`.

    Loads are ordered by their load id (`_fh_load_id`, staging's `load_id`), never by `_fh_loaded_at`: that is
    the loader's wall clock, and a clock stepped back (an NTP correction, a restored VM, a loader on another
    host) would date new rows before a model's watermark: they would never be read, and the marts would go
    stale without an error. Load ids grow with every load whatever the clocks say (DuckDB: max + 1 under the
    warehouse's file lock, so in the order loads commit; Snowflake: a sequence). Every watermark is therefore
    a load id: a staging model's greatest `load_id`, a fact's `source_load_id` (the newest load of its row's
    sources), a period model's `sources_load_id` (the newest load among its inputs when it ran).

    A fact or period model compares the loads of several tables with one watermark, so it assumes a load that
    commits after a build has a greater id than every load that build read. DuckDB's single writer ensures
    it. On Snowflake, loads of different tables run in parallel and take their id before they commit: a load
    still running while a build runs could commit below that build's watermark (as with load times before). -#}

{#- The config of an incremental model keyed by `unique_key`: a run replaces the keys it writes. -#}
{% macro incremental_by_key(unique_key) -%}
    {{ config(
        materialized='incremental',
        unique_key=unique_key,
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    ) }}
{%- endmacro %}

{#- The watermark of an incremental run: the greatest load id the model holds (`column`: `load_id`,
    `source_load_id` or `sources_load_id`), as a SQL expression; 0 when it holds none (load ids start at 1).
    Rows of a load with a greater id are new to the model.

    On DuckDB it is read when the model runs and written into the SQL as a constant: a constant filter is
    pushed into the scans of the (append-ordered) staging tables, whose zone maps then skip every row group
    loaded before it, and the optimizer sees a few new rows rather than guessing at a subquery's result.
    With a scalar subquery instead, the four incremental facts took 367 s of one incremental build of the
    10M-transaction institution (bench/transform). Elsewhere (Snowflake) it stays that subquery: Snowflake
    prunes micro-partitions on it. -#}
{% macro incremental_watermark(column) -%}
    {{ return(adapter.dispatch('incremental_watermark', 'finhouse')(column)) }}
{%- endmacro %}

{% macro default__incremental_watermark(column) -%}
    (select coalesce(max({{ column }}), 0) from {{ this }})
{%- endmacro %}

{% macro duckdb__incremental_watermark(column) -%}
    {%- set newest = none -%}
    {%- if execute -%}
        {#- varchar: the digits as stored, never a float or a Decimal's exponent form. -#}
        {%- set newest = run_query('select cast(max(' ~ column ~ ') as varchar) from ' ~ this).columns[0].values()[0] -%}
    {%- endif -%}
    cast({{ newest or 0 }} as bigint)
{%- endmacro %}

{#- The start of this dbt invocation, as a timestamp: the value of `transformed_at` of every row written now. -#}
{% macro transformed_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#- `name as {{ inlined() }} (…)`: a CTE the query reads more than once, kept inline. DuckDB materializes
    such a CTE by default, and a materialized CTE takes no filter from its readers: the incremental branches'
    watermark filters would then run on a full copy of the staging table (1.6 s instead of 0.4 s for
    fct_journal_lines on a 1M-entry institution, growing with the table). Other warehouses inline CTEs. -#}
{% macro inlined() -%}
    {{ return(adapter.dispatch('inlined', 'finhouse')()) }}
{%- endmacro %}

{% macro default__inlined() -%}{%- endmacro %}

{% macro duckdb__inlined() -%}not materialized{%- endmacro %}

{#- `select * from x {{ restricted_to('key', 'cte') }}`: in an incremental run, only the rows of x whose `key`
    is among those of `cte` (the keys this run writes, or the rows they join); in a full build, every row
    (the CTE `cte` is then not needed and need not exist). -#}
{% macro restricted_to(key, among) -%}
    {%- if is_incremental() -%}
    where {{ key }} in (select {{ key }} from {{ among }})
    {%- endif -%}
{%- endmacro %}
