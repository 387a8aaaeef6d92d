{#- PII never reaches a mart in clear: national ID and phone keep only their last characters. -#}
{% macro mask_national_id(column) -%}
    case when {{ column }} is null then null
         else 'XXXXX' || right({{ column }}, 3) end
{%- endmacro %}

{% macro mask_phone(column) -%}
    case when {{ column }} is null then null
         else '***' || right({{ column }}, 3) end
{%- endmacro %}
