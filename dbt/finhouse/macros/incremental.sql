{#- Incremental models: how the big tables are kept up to date without rebuilding them, and how their
    tests check what changed.

    The staging models of the big, append-mostly raw tables (journal lines and entries, payments, savings
    transactions, installments, repayments, allocations) and the facts and daily aggregates built on them
    are incremental: a run reads only the raw rows loaded since the newest load the model holds
    (macro latest_version) and replaces those keys (delete+insert). Every row records the dbt invocation
    that wrote it in `transformed_at`. -#}

{#- The config of an incremental model keyed by `unique_key`. -#}
{% macro staged_incrementally(unique_key) -%}
    {{ config(
        materialized='incremental',
        unique_key=unique_key,
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    ) }}
{%- endmacro %}

{#- The start of this dbt invocation, as a timestamp: the value of `transformed_at` of every row written now. -#}
{% macro transformed_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#- dbt's hook for the relation a generic test reads (`where` config included). In `dbt build`, a
    test of an incremental model that records `transformed_at` reads only the rows this invocation wrote:
    the others were tested when they were written and have not changed since (delete+insert replaces a
    changed key's row, so a key cannot appear twice either). On the first build or a --full-refresh every
    row was written now, so every row is tested; `dbt test` on its own always tests every row. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- set scoped = flags.WHICH == 'build' and fh_records_transformed_at(relation) -%}
    {%- if where or scoped -%}
        {%- set conditions = [] -%}
        {%- if where -%}{%- do conditions.append('(' ~ where ~ ')') -%}{%- endif -%}
        {%- if scoped -%}{%- do conditions.append('transformed_at = ' ~ transformed_at()) -%}{%- endif -%}
        (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#- True when `relation` is an incremental model of this project with a `transformed_at` column. -#}
{% macro fh_records_transformed_at(relation) -%}
    {%- if not execute -%}{{ return(false) }}{%- endif -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and node.config.materialized == 'incremental'
              and 'transformed_at' in node.columns
              and node.alias | lower == relation.identifier | lower
              and node.schema | lower == relation.schema | lower -%}
            {{ return(true) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(false) }}
{%- endmacro %}
