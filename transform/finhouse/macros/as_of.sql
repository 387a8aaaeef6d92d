{#- The date the marts are computed as of: var('as_of_date') when given, else the data's last business
    date (int_calendar_as_of). Use inside a model as a scalar expression. -#}
{% macro as_of_date() -%}
    (select as_of_date from {{ ref('int_calendar_as_of') }})
{%- endmacro %}
