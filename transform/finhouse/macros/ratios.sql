{#- Ratios and annualised flows (docs/kpis.md, "Building blocks"). Ratios are floats; amounts of money are
    not (macros/money.sql). -#}

{#- Annualise a flow over `months` months (docs/kpis.md: × 12 / months), rounded to 10 decimals so that the
    floating-point noise of the scaling never shows. -#}
{% macro annualise(expression, months) -%}
    round(({{ expression }}) * 12.0 / nullif({{ months }}, 0), 10)
{%- endmacro %}

{#- A ratio that is null, not an error, when the denominator is zero. -#}
{% macro safe_divide(numerator, denominator) -%}
    cast({{ numerator }} as {{ dbt.type_numeric() }}) / nullif(cast({{ denominator }} as {{ dbt.type_numeric() }}), 0)
{%- endmacro %}
