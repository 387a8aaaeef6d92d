{#- The loan domain rules in SQL, each written once: which installments are overdue on a date, days past
    due, the KPI aging bucket and the provisioning policy's rate. The Python side is corebanking/loans/rules.py;
    tests/test_loan_rules_parity.py renders these macros through dbt and holds them to the same answers as
    the Python rules on the same loans. -#}

{#- Whether an installment (a relation alias with due_on and completed_on) is overdue on `as_of`: due
    before it and not fully paid by the end of it (completed_on null or later). An installment due on
    `as_of` is not yet late. -#}
{% macro installment_overdue(installment, as_of) -%}
    ({{ installment }}.due_on < {{ as_of }}
     and ({{ installment }}.completed_on is null or {{ installment }}.completed_on > {{ as_of }}))
{%- endmacro %}

{#- Days past due on `as_of` from the due date of the oldest overdue installment (null when none): 0
    when nothing is overdue. -#}
{% macro days_past_due(oldest_overdue_due_on, as_of) -%}
    coalesce({{ dbt.datediff(oldest_overdue_due_on, as_of, 'day') }}, 0)
{%- endmacro %}

{#- The DPD aging bucket of docs/kpis.md for a days-past-due expression. -#}
{% macro dpd_bucket(dpd) -%}
    case
        when {{ dpd }} <= 0 then 'current'
        when {{ dpd }} <= 30 then '1-30'
        when {{ dpd }} <= 60 then '31-60'
        when {{ dpd }} <= 90 then '61-90'
        when {{ dpd }} <= 180 then '91-180'
        when {{ dpd }} <= 360 then '181-360'
        else '>360'
    end
{%- endmacro %}

{#- The reserve share of the provisioning policy (loans.rules.PROVISION_POLICY) for a DPD. -#}
{% macro provision_rate(dpd) -%}
    case
        when {{ dpd }} <= 0 then 0.00
        when {{ dpd }} <= 30 then 0.10
        when {{ dpd }} <= 60 then 0.25
        when {{ dpd }} <= 90 then 0.50
        else 1.00
    end
{%- endmacro %}
