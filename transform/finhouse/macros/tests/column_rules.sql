{#- Generic test on a model or source table: every rule of its columns, in one test.

    unique: [column or [column, ...], ...]      each key (a column, or a combination of columns) names at
                                                most one row (rows with a null single-column key aside)
    not_null: [column, ...]                     the column is never null
    relationships: {column: {to: ref('model'), field: column}, ...}
                                                every non-null value is a `field` of `to`
    ranges: {column: {min_value: 0, max_value: 1, inclusive: true}, ...}
                                                every non-null value lies in the range (either bound
                                                optional; `inclusive: false` makes them strict)
    accepted_values: {column: [value, ...], ...}
                                                every non-null value is one of these
    expressions: [sql, ...]                     the expression holds on every row (a null result passes)

    One test per model rather than one per column and rule (dbt's unique, not_null, relationships,
    accepted_values): each test is a dbt node, and a node costs dbt far more than the column's scan costs
    the warehouse, so the number of nodes set the floor of every build (bench/transform/README.md). The
    row rules (not null, ranges, values, expressions) are counted in one pass; each key and reference is
    one more query on the same rows. A failure returns a row per broken rule — the column, the rule and
    how many rows break it — and the test's count is the number of rows that break a rule (a row breaking
    two rules counts twice; a duplicated key counts each of its rows). -#}
{% test column_rules(model, unique=[], not_null=[], relationships={}, ranges={}, accepted_values={}, expressions=[]) %}
{%- set row_rules = [] -%}
{%- for column in not_null -%}
  {%- do row_rules.append((column, 'not null', column ~ ' is null')) -%}
{%- endfor -%}
{%- for column, bounds in ranges.items() -%}
  {%- if bounds.get('min_value') is none and bounds.get('max_value') is none -%}
    {{ exceptions.raise_compiler_error("column_rules on " ~ model ~ ": the range of " ~ column
                                       ~ " needs min_value, max_value or both") }}
  {%- endif -%}
  {%- set inclusive = bounds.get('inclusive', true) -%}
  {%- set broken = [] -%}
  {%- if bounds.get('min_value') is not none -%}
    {%- do broken.append(column ~ (' < ' if inclusive else ' <= ') ~ bounds['min_value']) -%}
  {%- endif -%}
  {%- if bounds.get('max_value') is not none -%}
    {%- do broken.append(column ~ (' > ' if inclusive else ' >= ') ~ bounds['max_value']) -%}
  {%- endif -%}
  {%- set described = ('in [' if inclusive else 'in (') ~ bounds.get('min_value', '-inf') ~ ', '
                      ~ bounds.get('max_value', 'inf') ~ (']' if inclusive else ')') -%}
  {%- do row_rules.append((column, described, broken | join(' or '))) -%}
{%- endfor -%}
{%- for column, values in accepted_values.items() -%}
  {%- set quoted = [] -%}
  {%- for value in values -%}{%- do quoted.append("'" ~ (value | string | replace("'", "''")) ~ "'") -%}{%- endfor -%}
  {%- do row_rules.append((column, 'one of ' ~ values | join(', '), column ~ ' not in (' ~ quoted | join(', ') ~ ')')) -%}
{%- endfor -%}
{%- for expression in expressions -%}
  {%- do row_rules.append(('(row)', expression, 'not (' ~ expression ~ ')')) -%}
{%- endfor -%}
{%- for column, reference in relationships.items() -%}
  {%- if reference.get('to') is none or reference.get('field') is none -%}
    {{ exceptions.raise_compiler_error("column_rules on " ~ model ~ ": the relationship of " ~ column
                                       ~ " needs `to` (a ref or source) and `field`") }}
  {%- endif -%}
{%- endfor -%}
{%- if not (row_rules or unique or relationships) -%}
  {{ exceptions.raise_compiler_error("column_rules on " ~ model ~ ": no rule given (unique, not_null, relationships, "
                                     ~ "ranges, accepted_values or expressions)") }}
{%- endif -%}
{%- set failures = [] -%}
{{ config(fail_calc='coalesce(sum(failing_rows), 0)') }}
with tested as {{ inlined() }} (
    select * from {{ model }}
)
{%- if row_rules %},
counted as (
    select
    {%- for column, rule, broken in row_rules %}
        sum(case when {{ broken }} then 1 else 0 end) as broken_{{ loop.index }}{{ ',' if not loop.last }}
    {%- endfor %}
    from tested
)
{%- endif %}
{%- for column, rule, broken in row_rules %}
{%- do failures.append("select '" ~ (column | replace("'", "''")) ~ "' as column_name, '" ~ (rule | replace("'", "''"))
                       ~ "' as rule, broken_" ~ loop.index ~ " as failing_rows from counted where broken_"
                       ~ loop.index ~ " > 0") %}
{%- endfor %}
{%- for key in unique %}
  {%- set columns = [key] if key is string else key %}
  {%- set not_null_key = ('where ' ~ key ~ ' is not null ') if key is string else '' %}
  {%- do failures.append("select '" ~ columns | join(', ') ~ "' as column_name, 'unique' as rule, sum(rows_with_key) as failing_rows "
                         ~ "from (select count(*) as rows_with_key from tested " ~ not_null_key ~ "group by "
                         ~ columns | join(', ') ~ " having count(*) > 1) duplicated having count(*) > 0") %}
{%- endfor %}
{%- for column, reference in relationships.items() %}
  {%- set to_name = reference['to'].identifier if reference['to'].identifier is defined else reference['to'] %}
  {%- do failures.append("select '" ~ column ~ "' as column_name, 'references " ~ to_name ~ "." ~ reference['field']
                         ~ "' as rule, count(*) as failing_rows from tested child left join " ~ reference['to']
                         ~ " parent on child." ~ column ~ " = parent." ~ reference['field'] ~ " where child." ~ column
                         ~ " is not null and parent." ~ reference['field'] ~ " is null having count(*) > 0") %}
{%- endfor %}
{% for failure in failures %}
{{ failure }}
{{ 'union all' if not loop.last }}
{%- endfor %}
{% endtest %}
