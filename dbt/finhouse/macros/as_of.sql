{#- The date the marts are computed as of: var('as_of_date') when given, else the data's last business
    date (int_calendar_as_of). Use inside a model as a scalar expression. -#}
{% macro as_of_date() -%}
    (select as_of_date from {{ ref('int_calendar_as_of') }})
{%- endmacro %}

{#- Annualise a flow over `months` months (KPIS.md: × 12 / months), rounded to 10 decimals so that the
    floating-point noise of the scaling never shows. -#}
{% macro annualise(expression, months) -%}
    round(({{ expression }}) * 12.0 / nullif({{ months }}, 0), 10)
{%- endmacro %}

{#- A ratio that is null, not an error, when the denominator is zero. -#}
{% macro safe_divide(numerator, denominator) -%}
    cast({{ numerator }} as {{ dbt.type_numeric() }}) / nullif(cast({{ denominator }} as {{ dbt.type_numeric() }}), 0)
{%- endmacro %}

{#- Two amounts of money differ: by at least half a cent. Exact on DuckDB and Snowflake (NUMBER), and robust
    where an engine sums DECIMALs in floating point (the fakesnow emulator does). -#}
{% macro cents_differ(a, b) -%}
    abs(coalesce({{ a }}, 0) - coalesce({{ b }}, 0)) >= 0.005
{%- endmacro %}

{#- An amount of money that comes out of a division (an average, an amount per borrower): rounded to the
    cent and typed DECIMAL(18,2), like every other amount in the warehouse. DuckDB divides DECIMALs in
    floating point; without the cast the column would be a DOUBLE. -#}
{% macro money(expression) -%}
    cast(round({{ expression }}, 2) as decimal(18, 2))
{%- endmacro %}
