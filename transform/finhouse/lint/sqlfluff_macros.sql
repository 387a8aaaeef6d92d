{#- The project's macros as sqlfluff's jinja templater sees them (`make lint-sql`; transform/finhouse/.sqlfluff):
    sqlfluff renders the models without dbt, and the real macros (macros/) call dbt's adapter, run queries
    and read the graph. Each stub renders SQL of the same shape as the real macro, so that the models' own
    SQL is what gets linted; the macros themselves are not linted. Not used by dbt (outside its paths).
    A model calling a macro missing here fails `make lint-sql` ("… is undefined"): add a stub. -#}

{% macro latest_version(relation, key='id') %}select versions.* from {{ relation }} as versions{% endmacro %}
{% macro loans_aged(dates) %}loans_aged as (select * from {{ dates }}){% endmacro %}
{% macro incremental_by_key(unique_key) %}{% endmacro %}
{% macro incremental_by_period(key) %}{% endmacro %}
{% macro incremental_watermark(column) %}cast(0 as bigint){% endmacro %}
{% macro transformed_at() %}cast('2026-01-01 00:00:00' as timestamp){% endmacro %}
{% macro inlined() %}{% endmacro %}
{% macro restricted_to(key, among) %}where {{ key }} in (select {{ key }} from {{ among }}){% endmacro %}
{% macro first_period_to_rebuild(changed_dates) %}cast('2026-01-01' as date){% endmacro %}
{% macro first_period_rewritten(upstream, key='month_start') %}cast('2026-01-01' as date){% endmacro %}
{% macro from_period(column, rebuild_from) %}{{ column }} >= {{ rebuild_from }}{% endmacro %}
{% macro moved_since_stored(since, stored, key, attributes) %}({{ stored }}.{{ key }} is not null){% endmacro %}
{% macro as_of_move_date(stored_as_of) %}select cast('2026-01-01' as date) as business_date{% endmacro %}
{% macro newest_load(inputs) %}(select 0){% endmacro %}
{% macro as_of_date() %}(select as_of_date from as_of_date_stub){% endmacro %}
{% macro annualise(expression, months) %}round(({{ expression }}) * 12.0 / nullif({{ months }}, 0), 10){% endmacro %}
{% macro safe_divide(numerator, denominator) %}cast({{ numerator }} as numeric) / nullif(cast({{ denominator }} as numeric), 0){% endmacro %}
{% macro cents_differ(a, b) %}abs(coalesce({{ a }}, 0) - coalesce({{ b }}, 0)) >= 0.005{% endmacro %}
{% macro money(expression) %}cast(round({{ expression }}, 2) as decimal(18, 2)){% endmacro %}
{% macro dpd_bucket(dpd) %}case when {{ dpd }} <= 0 then 'current' else '>360' end{% endmacro %}
{% macro provision_rate(dpd) %}case when {{ dpd }} <= 0 then 0.00 else 1.00 end{% endmacro %}
{% macro installment_overdue(installment, as_of) %}({{ installment }}.due_on < {{ as_of }}){% endmacro %}
{% macro local_timestamp(column) %}timezone('UTC', {{ column }}){% endmacro %}
{% macro iso_day_of_week(column) %}isodow({{ column }}){% endmacro %}
{% macro pii_masking_hook() %}{% endmacro %}
{#- dbt's var(), with this project's vars (dbt_project.yml) where a model computes with the value. A macro
    returns text here (no `return`): business_days is the digits, which `| join(', ')` lists. -#}
{% macro var(name, default=none) -%}
    {%- if name == 'business_hours_start' -%}08:00
    {%- elif name == 'business_hours_end' -%}18:00
    {%- elif name == 'business_days' -%}123456
    {%- elif name == 'as_of_date' -%}
    {%- else -%}90
    {%- endif -%}
{%- endmacro %}
