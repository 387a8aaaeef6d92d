-- No declared PII (models/staging/oltp/_oltp__sources.yml, `meta: {pii: …}`) downstream of staging, for every
-- declared column, not a chosen few:
--   by name   no column of intermediate or marts is named after a declared column or what its kind is usually
--             called once renamed (pii_name_patterns: %phone%, %birth%, …);
--   by value  no text column of any mart (what dashboards and REPORTER read) holds a customer's national ID,
--             phone number or full name as it is in staging. (Single names and free text are left to the name
--             check: "Grace" or "motorbike" may well be a mart's value by chance.)
-- A failure names the offending schema.table.column.
-- Run after every mart and the staging models the values come from (tests/test_pii_declaration.py checks
-- this list names every mart and every staging model holding declared PII):
-- depends_on: {{ ref('audit_activity_daily') }}
-- depends_on: {{ ref('collection_cohorts_monthly') }}
-- depends_on: {{ ref('collection_efficiency_monthly') }}
-- depends_on: {{ ref('customer_growth_monthly') }}
-- depends_on: {{ ref('customer_lifetime_value') }}
-- depends_on: {{ ref('customer_retention_monthly') }}
-- depends_on: {{ ref('customer_segments') }}
-- depends_on: {{ ref('dim_branches') }}
-- depends_on: {{ ref('dim_customers') }}
-- depends_on: {{ ref('dim_loans') }}
-- depends_on: {{ ref('dim_officers') }}
-- depends_on: {{ ref('dim_products') }}
-- depends_on: {{ ref('disbursement_trends_monthly') }}
-- depends_on: {{ ref('fct_disbursements') }}
-- depends_on: {{ ref('fct_journal_lines') }}
-- depends_on: {{ ref('fct_repayments') }}
-- depends_on: {{ ref('fct_savings_transactions') }}
-- depends_on: {{ ref('financial_health_monthly') }}
-- depends_on: {{ ref('fixed_deposit_maturity_calendar') }}
-- depends_on: {{ ref('fixed_deposit_portfolio_monthly') }}
-- depends_on: {{ ref('portfolio_at_risk_monthly') }}
-- depends_on: {{ ref('portfolio_snapshot_daily') }}
-- depends_on: {{ ref('stg_oltp__accounting_period_closes') }}
-- depends_on: {{ ref('stg_oltp__approval_requests') }}
-- depends_on: {{ ref('stg_oltp__audit_log') }}
-- depends_on: {{ ref('stg_oltp__customers') }}
-- depends_on: {{ ref('stg_oltp__journal_entries') }}
-- depends_on: {{ ref('stg_oltp__loan_collateral') }}
-- depends_on: {{ ref('stg_oltp__loan_restructures') }}
-- depends_on: {{ ref('stg_oltp__loan_write_offs') }}
-- depends_on: {{ ref('stg_oltp__payments') }}
-- depends_on: {{ ref('write_offs_and_recoveries') }}
{%- set declared = pii_columns() %}
{%- set info = (target.database ~ '.' if target.type == 'snowflake' else '') ~ 'information_schema' %}
{%- set layers = ['intermediate', 'marts'] %}

with named as (
    select lower(table_schema) || '.' || lower(table_name) || '.' || lower(column_name) as problem
    from {{ info }}.columns
    where lower(table_catalog) = lower('{{ target.database }}')
      and lower(table_schema) in ('{{ layers | join("', '") }}')
      and (
        {%- for pattern in pii_name_patterns() %}
        {{ 'or ' if not loop.first }}lower(column_name) like '{{ pattern }}'
        {%- else %}
        false
        {%- endfor %}
      )
),

pii_values as (
    {%- set selects = [] %}
    {%- for table, columns in (declared | groupby('table')) %}
        {%- set staged = ref('stg_oltp__' ~ table) %}
        {%- for c in columns if c.kind in ('national_id', 'phone') %}
            {%- do selects.append("select cast(" ~ c.column ~ " as " ~ dbt.type_string() ~ ") as pii_value from "
                                  ~ staged ~ " where " ~ c.column ~ " is not null") %}
        {%- endfor %}
        {%- set names = columns | selectattr('kind', 'equalto', 'name') | map(attribute='column') | list %}
        {%- if names | length > 1 %}
            {%- do selects.append("select " ~ names | join(" || ' ' || ") ~ " as pii_value from " ~ staged
                                  ~ " where " ~ names | join(" is not null and ") ~ " is not null") %}
        {%- endif %}
    {%- endfor %}
    {{ selects | join('\n    union all\n    ') if selects else "select cast(null as " ~ dbt.type_string() ~ ") as pii_value where false" }}
),

{#- every text column of every mart, listed from the warehouse itself so a new mart is covered unasked #}
{%- set text_columns = [] %}
{%- if execute %}
    {%- set listed = run_query("select lower(table_name), lower(column_name) from " ~ info ~ ".columns "
        ~ "where lower(table_catalog) = lower('" ~ target.database ~ "') and lower(table_schema) = 'marts' "
        ~ "and (upper(data_type) like '%CHAR%' or upper(data_type) in ('TEXT', 'STRING')) "
        ~ "order by 1, 2") %}
    {%- for row in listed.rows %}{% do text_columns.append((row[0], row[1])) %}{% endfor %}
{%- endif %}

leaked as (
    {%- for table, column in text_columns %}
    select distinct 'marts.{{ table }}.{{ column }}' as problem
    from {{ target.database }}.{{ generate_schema_name('marts', none) }}.{{ table }} as m
    inner join pii_values on m.{{ column }} = pii_values.pii_value
    {{ 'union all' if not loop.last }}
    {%- else %}
    select cast(null as {{ dbt.type_string() }}) as problem where false
    {%- endfor %}
)

select problem from named
union all
select problem from leaked
