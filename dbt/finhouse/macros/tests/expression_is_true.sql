{#- Generic test: `expression` holds on every row (optionally only where `where_clause` holds). Used on a
    model (`expression` over its columns) or a column (`column_name` is available as a prefix-free name). -#}
{% test expression_is_true(model, expression, where_clause=none, column_name=none) %}
select *
from {{ model }}
where not ({{ expression }})
{%- if where_clause %}
  and ({{ where_clause }})
{%- endif %}
{% endtest %}
