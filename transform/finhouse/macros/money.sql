{#- Amounts of money: exact (DECIMAL) everywhere in the warehouse, rounded to the cent only at the end of a
    computation (docs/kpis.md, "Rounding"). -#}

{#- An amount of money that comes out of a division (an average, an amount per borrower): rounded to the
    cent and typed DECIMAL(18,2), like every other amount in the warehouse. DuckDB divides DECIMALs in
    floating point; without the cast the column would be a DOUBLE. -#}
{% macro money(expression) -%}
    cast(round({{ expression }}, 2) as decimal(18, 2))
{%- endmacro %}

{#- Two amounts of money differ: by at least half a cent. Exact on DuckDB and Snowflake (NUMBER), and robust
    where an engine sums DECIMALs in floating point (the fakesnow emulator does: see macros/emulator/). -#}
{% macro cents_differ(a, b) -%}
    abs(coalesce({{ a }}, 0) - coalesce({{ b }}, 0)) >= 0.005
{%- endmacro %}
