"""Write finhouse's Superset assets (serve/dashboards/**.yaml) from the definitions below.

The YAML in serve/dashboards/ is what gets imported and what the export check compares with. To change
a dashboard: edit this file, run it, `make superset-import`, then `make superset-export` (rewrites the YAML
in Superset's own export form), and commit both. UUIDs are derived from names (uuid5), so they are stable.

    serve/bin/with-env python serve/tools/generate_assets.py
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import yaml

OUT = Path(__file__).resolve().parents[1] / "dashboards"
NS = uuid.UUID("5b0f3a52-7c1e-4d8a-9f39-0c8f2b1f6a11")
DB_NAME = "finhouse warehouse"
SERVING = Path(os.environ["FINHOUSE_SERVING_PATH"])  # run through serve/bin/with-env, which sets it


def uid(kind: str, name: str) -> str:
    return str(uuid.uuid5(NS, f"{kind}:{name}"))


def ratio(num: str, den: str, scale: str = "") -> str:
    return f"SUM({num}){scale} / NULLIF(SUM({den}), 0)"


# --- datasets: virtual datasets on the marts, every one with the columns the native filters use --------

PAR_COLUMNS = """p.month_start, p.period_end, p.active_loans, p.active_borrowers, p.gross_loan_portfolio,
  p.par_1_principal, p.par_30_principal, p.par_90_principal, p.restructured_principal, p.overdue_principal,
  p.bucket_current_principal, p.bucket_1_30_principal, p.bucket_31_60_principal, p.bucket_61_90_principal,
  p.bucket_91_180_principal, p.bucket_181_360_principal, p.bucket_over_360_principal,
  p.non_performing_principal, p.installments_missed, p.written_off_principal, p.average_gross_loan_portfolio"""

PAR_METRICS = {
    "gross_loan_portfolio": ("Gross loan portfolio", "SUM(gross_loan_portfolio)", ",.0f"),
    "par_1": ("PAR>1", ratio("par_1_principal", "gross_loan_portfolio"), ".1%"),
    "par_30": ("PAR>30", ratio("par_30_principal", "gross_loan_portfolio"), ".1%"),
    "par_90": ("PAR>90", ratio("par_90_principal", "gross_loan_portfolio"), ".1%"),
    "arrears_rate": ("Arrears rate (not PAR)", ratio("overdue_principal", "gross_loan_portfolio"), ".1%"),
    "restructured_ratio": ("Restructured ratio", ratio("restructured_principal", "gross_loan_portfolio"),
                           ".1%"),
    "write_off_ratio": ("Write-off ratio (annualised)",
                        ratio("written_off_principal", "average_gross_loan_portfolio", " * 12"), ".2%"),
    "dpd_1_30": ("DPD 1–30", "SUM(bucket_1_30_principal)", ",.0f"),
    "dpd_31_60": ("DPD 31–60", "SUM(bucket_31_60_principal)", ",.0f"),
    "dpd_61_90": ("DPD 61–90", "SUM(bucket_61_90_principal)", ",.0f"),
    "dpd_91_180": ("DPD 91–180", "SUM(bucket_91_180_principal)", ",.0f"),
    "dpd_181_360": ("DPD 181–360", "SUM(bucket_181_360_principal)", ",.0f"),
    "dpd_over_360": ("DPD >360", "SUM(bucket_over_360_principal)", ",.0f"),
}

DATASETS = {
    "par_by_branch": dict(
        description="Portfolio quality per month-end and branch (marts.portfolio_at_risk_monthly, grain branch)."
                    " Ratios are ratios of sums, so they add up to the institution's.",
        sql=f"""SELECT {PAR_COLUMNS}, b.branch_name
FROM marts.portfolio_at_risk_monthly p
JOIN marts.dim_branches b ON b.branch_id = p.branch_id
WHERE p.grain = 'branch'""",
        dttm="month_start", metrics=PAR_METRICS),
    "par_by_officer": dict(
        description="Portfolio quality per month-end and loan officer (grain officer), with the officer's branch.",
        sql=f"""SELECT {PAR_COLUMNS}, o.employee_number AS loan_officer, b.branch_name
FROM marts.portfolio_at_risk_monthly p
JOIN marts.dim_officers o ON o.officer_id = p.officer_id
LEFT JOIN marts.dim_branches b ON b.branch_id = o.branch_id
WHERE p.grain = 'officer'""",
        dttm="month_start", metrics=PAR_METRICS),
    "par_by_product": dict(
        description="Portfolio quality per month-end and loan product (grain product).",
        sql=f"""SELECT {PAR_COLUMNS}, d.product_name, d.lending_type
FROM marts.portfolio_at_risk_monthly p
JOIN marts.dim_products d ON d.product_id = p.product_id
WHERE p.grain = 'product'""",
        dttm="month_start", metrics=PAR_METRICS),
    "loan_flows": dict(
        description="Money out (disbursed principal) and money in (repayments received) per month, branch and"
                    " product (marts.fct_disbursements, marts.fct_repayments).",
        sql="""SELECT f.disbursed_month AS month_start, b.branch_name, d.product_name, d.lending_type,
  'disbursed' AS flow, f.amount_disbursed AS amount
FROM marts.fct_disbursements f
JOIN marts.dim_branches b ON b.branch_id = f.branch_id
JOIN marts.dim_products d ON d.product_id = f.product_id
UNION ALL
SELECT r.paid_month, b.branch_name, d.product_name, d.lending_type, 'collected', r.amount
FROM marts.fct_repayments r
JOIN marts.dim_branches b ON b.branch_id = r.branch_id
JOIN marts.dim_products d ON d.product_id = r.product_id""",
        dttm="month_start", metrics={"amount": ("Amount", "SUM(amount)", ",.0f")}),
    "branches": dict(
        description="Branches (marts.dim_branches): the branch filter's values.",
        sql="SELECT branch_id, branch_code, branch_name, region, opened_on FROM marts.dim_branches",
        dttm=None, metrics={}),
    "loan_products": dict(
        description="Loan products (marts.dim_products): the product filter's values.",
        sql="SELECT product_id, product_code, product_name, lending_type, frequency FROM marts.dim_products",
        dttm=None, metrics={}),
    "customers": dict(
        description="One row per customer: status, segments (marts.customer_segments), lifetime value"
                    " (marts.customer_lifetime_value), and whether they borrow in a group or individually.",
        sql="""WITH lending AS (
  SELECT customer_id,
         CASE WHEN bool_or(group_id IS NOT NULL) THEN 'group' ELSE 'individual' END AS lending_type
  FROM marts.dim_loans WHERE disbursed_on IS NOT NULL GROUP BY customer_id)
SELECT c.customer_id, c.joined_on, b.branch_name, c.gender, c.customer_status, c.loan_cycle,
  CAST(c.is_active_borrower AS INTEGER) AS is_active_borrower,
  CAST(c.is_active_client AS INTEGER) AS is_active_client,
  c.principal_outstanding, c.savings_balance, c.fixed_deposit_principal,
  s.activity_segment, s.balance_segment, s.product_mix_segment, s.repayment_segment,
  v.realised_income, v.expected_income, v.expected_loss, v.lifetime_value,
  COALESCE(l.lending_type, 'never borrowed') AS lending_type
FROM marts.dim_customers c
JOIN marts.dim_branches b ON b.branch_id = c.branch_id
LEFT JOIN marts.customer_segments s ON s.customer_id = c.customer_id
LEFT JOIN marts.customer_lifetime_value v ON v.customer_id = c.customer_id
LEFT JOIN lending l ON l.customer_id = c.customer_id""",
        dttm="joined_on",
        metrics={"customers": ("Customers", "COUNT(*)", ",d"),
                 "active_borrowers": ("Active borrowers", "SUM(is_active_borrower)", ",d"),
                 "average_lifetime_value": ("Average lifetime value", "AVG(lifetime_value)", ",.0f"),
                 "total_lifetime_value": ("Total lifetime value", "SUM(lifetime_value)", ",.0f"),
                 "principal_outstanding": ("Outstanding principal", "SUM(principal_outstanding)", ",.0f")}),
    "customer_growth": dict(
        description="New, active and dormant/exited customers per month (marts.customer_growth_monthly).",
        sql="""SELECT month_start, period_end, new_customers, customers_joined_to_date, active_borrowers,
  active_clients, dormant_customers_now, exited_customers_now
FROM marts.customer_growth_monthly""",
        dttm="month_start",
        metrics={"new_customers": ("New customers", "SUM(new_customers)", ",d"),
                 "active_borrowers_eom": ("Active borrowers", "MAX(active_borrowers)", ",d"),
                 "active_clients_eom": ("Active clients", "MAX(active_clients)", ",d"),
                 "customers_to_date": ("Customers to date", "MAX(customers_joined_to_date)", ",d")}),
    "customer_retention": dict(
        description="Borrower retention by closing month (marts.customer_retention_monthly).",
        sql="""SELECT closed_month AS month_start, loans_closed, borrowers_closed, loans_followed_within_window,
  retention_rate, is_window_incomplete
FROM marts.customer_retention_monthly""",
        dttm="month_start",
        metrics={"retention_rate": ("Retention (next loan within 90 days)",
                                    ratio("loans_followed_within_window", "loans_closed"), ".1%"),
                 "loans_closed": ("Loans closed", "SUM(loans_closed)", ",d")}),
    "fixed_deposits": dict(
        description="The fixed-deposit book per month-end and product (marts.fixed_deposit_portfolio_monthly).",
        sql="""SELECT month_start, period_end, product_name, deposits_active, principal, accrued_interest_unpaid,
  interest_accrued_in_period, weighted_average_rate, principal_maturing_30_days, principal_maturing_90_days,
  principal_placed_in_period
FROM marts.fixed_deposit_portfolio_monthly
WHERE grain = 'product'""",
        dttm="month_start",
        metrics={"principal": ("Principal", "SUM(principal)", ",.0f"),
                 "deposits_active": ("Active deposits", "SUM(deposits_active)", ",d"),
                 "interest_accrued": ("Interest accrued", "SUM(interest_accrued_in_period)", ",.0f"),
                 "principal_placed": ("Principal placed", "SUM(principal_placed_in_period)", ",.0f"),
                 "maturing_90_days": ("Maturing within 90 days", "SUM(principal_maturing_90_days)", ",.0f"),
                 "weighted_rate": ("Weighted average rate",
                                   "SUM(weighted_average_rate * principal) / NULLIF(SUM(principal), 0)",
                                   ".2%")}),
    "fixed_deposit_maturities": dict(
        description="Principal and interest of active fixed deposits falling due per month ahead"
                    " (marts.fixed_deposit_maturity_calendar): the liquidity plan.",
        sql="""SELECT bucket_start, as_of_date, deposits_maturing, principal_due, interest_due, total_due
FROM marts.fixed_deposit_maturity_calendar
WHERE bucket_type = 'month'""",
        dttm="bucket_start",
        metrics={"principal_due": ("Principal due", "SUM(principal_due)", ",.0f"),
                 "interest_due": ("Interest due", "SUM(interest_due)", ",.0f")}),
    "financial_health": dict(
        description="The SEEP ratio set per month from the general ledger (marts.financial_health_monthly,"
                    " period_type month). Flow ratios are annualised in the mart.",
        sql="""SELECT period_start AS month_start, period_end, months, total_assets, total_equity,
  gross_loan_portfolio, financial_revenue, financial_expense, provision_expense, operating_expense,
  net_operating_income, operational_self_sufficiency, financial_self_sufficiency, return_on_assets,
  return_on_equity, yield_on_gross_portfolio, real_yield_on_gross_portfolio, portfolio_to_assets,
  cost_of_funds, debt_to_equity, liquid_ratio, operating_expense_ratio, cost_per_borrower,
  borrowers_per_loan_officer, average_outstanding_loan, fixed_deposits_due_90_days
FROM marts.financial_health_monthly
WHERE period_type = 'month'""",
        dttm="month_start",
        metrics={name: (label, f"AVG({name})", fmt) for name, label, fmt in [
            ("operational_self_sufficiency", "OSS", ".0%"),
            ("financial_self_sufficiency", "FSS", ".0%"),
            ("return_on_assets", "ROA", ".1%"), ("return_on_equity", "ROE", ".1%"),
            ("yield_on_gross_portfolio", "Yield on gross portfolio (nominal)", ".1%"),
            ("real_yield_on_gross_portfolio", "Real yield", ".1%"),
            ("portfolio_to_assets", "Portfolio to assets", ".0%"),
            ("cost_of_funds", "Cost of funds", ".1%"), ("debt_to_equity", "Debt to equity", ".2f"),
            ("liquid_ratio", "Liquid ratio", ".2f"),
            ("operating_expense_ratio", "Operating expense ratio", ".1%"),
            ("cost_per_borrower", "Cost per borrower", ",.0f"),
            ("borrowers_per_loan_officer", "Borrowers per loan officer", ",.0f"),
            ("average_outstanding_loan", "Average outstanding loan", ",.0f")]}),
    "loan_losses": dict(
        description="Write-offs, recoveries and the loan-loss reserve per month for the institution"
                    " (marts.write_offs_and_recoveries).",
        sql="""SELECT period_start AS month_start, period_end, months, average_gross_loan_portfolio,
  written_off_principal, recovered_amount, net_loan_loss, par_30_principal, loan_loss_reserve,
  write_off_ratio_annualised, loan_loss_rate_annualised, risk_coverage_ratio
FROM marts.write_offs_and_recoveries
WHERE period_type = 'month' AND grain = 'institution'""",
        dttm="month_start",
        metrics={"write_off_ratio": ("Write-off ratio (annualised)",
                                     ratio("written_off_principal", "average_gross_loan_portfolio", " * 12"),
                                     ".2%"),
                 "loan_loss_rate": ("Loan loss rate (annualised)",
                                    ratio("net_loan_loss", "average_gross_loan_portfolio", " * 12"), ".2%"),
                 "risk_coverage": ("Risk coverage ratio", "AVG(risk_coverage_ratio)", ".2f")}),
}


def _describe(sql: str) -> list[tuple[str, str]]:
    """The query's columns and types, read from the serving copy (FINHOUSE_SERVING_PATH)."""
    import duckdb

    con = duckdb.connect(str(SERVING), read_only=True)
    try:
        return [(r[0], r[1]) for r in con.execute(f"DESCRIBE ({sql})").fetchall()]
    finally:
        con.close()


def dataset_yaml(name: str, spec: dict) -> dict:
    return {
        "table_name": name,
        "main_dttm_col": spec["dttm"],
        "description": spec["description"],
        "default_endpoint": None,
        "offset": 0,
        "cache_timeout": None,
        "catalog": None,
        "schema": "marts",
        "sql": spec["sql"],
        "params": None,
        "template_params": None,
        "filter_select_enabled": True,
        "fetch_values_predicate": None,
        "extra": None,
        "normalize_columns": False,
        "always_filter_main_dttm": False,
        "uuid": uid("dataset", name),
        "metrics": [{"metric_name": m, "verbose_name": label, "metric_type": None, "expression": expr,
                     "description": None, "d3format": fmt, "currency": None, "extra": None,
                     "warning_text": None} for m, (label, expr, fmt) in spec["metrics"].items()],
        "columns": [{"column_name": col, "verbose_name": None, "is_dttm": typ in ("DATE", "TIMESTAMP"),
                     "is_active": True, "type": typ, "advanced_data_type": None, "groupby": True,
                     "filterable": True, "expression": None, "description": None,
                     "python_date_format": None, "extra": None}
                    for col, typ in _describe(spec["sql"])],
        "version": "1.0.0",
        "database_uuid": uid("database", DB_NAME),
    }


# --- charts --------------------------------------------------------------------------------------------

def ts(viz, dataset, name, metrics, *, x="month_start", groupby=(), stack=False, fmt=None, filters=(),
       grain="P1M", kind="line", **extra):
    params = {
        "viz_type": viz, "x_axis": x, "time_grain_sqla": grain if x in _DTTM_COLS else None,
        "metrics": list(metrics), "groupby": list(groupby),
        "adhoc_filters": list(filters), "row_limit": 10000, "show_legend": True,
        "legendOrientation": "top", "rich_tooltip": True, "y_axis_format": fmt or "SMART_NUMBER",
        "x_axis_time_format": "smart_date", "color_scheme": "supersetColors",
        "truncate_metric": True, "stack": "Stack" if stack else None, "only_total": True,
        "sort_series_type": "sum", "zoomable": False, "markerEnabled": kind == "line",
        **extra,
    }
    return dict(name=name, dataset=dataset, viz=viz, params=params)


_DTTM_COLS = {"month_start", "joined_on", "bucket_start"}


def line(dataset, name, metrics, **kw):
    return ts("echarts_timeseries_line", dataset, name, metrics, **kw)


def bar(dataset, name, metrics, **kw):
    return ts("echarts_timeseries_bar", dataset, name, metrics, kind="bar", **kw)


def pie(dataset, name, metric, groupby):
    params = {"viz_type": "pie", "groupby": [groupby], "metric": metric, "adhoc_filters": [],
              "row_limit": 100, "sort_by_metric": True, "color_scheme": "supersetColors",
              "show_labels": True, "labels_outside": True, "label_type": "key_percent", "number_format":
              "SMART_NUMBER", "show_legend": True, "legendOrientation": "right", "innerRadius": 30,
              "outerRadius": 70, "donut": True}
    return dict(name=name, dataset=dataset, viz="pie", params=params)


def big_number(dataset, name, metric, fmt, subheader=""):
    params = {"viz_type": "big_number", "x_axis": "month_start", "time_grain_sqla": "P1M", "metric": metric,
              "adhoc_filters": [], "show_trend_line": True, "start_y_axis_at_zero": True,
              "y_axis_format": fmt, "compare_lag": 12, "compare_suffix": "vs a year before",
              "subheader": subheader, "color_picker": {"r": 0, "g": 122, "b": 135, "a": 1}}
    return dict(name=name, dataset=dataset, viz="big_number", params=params)


def table(dataset, name, groupby, metrics):
    params = {"viz_type": "table", "query_mode": "aggregate", "groupby": [groupby], "metrics": list(metrics),
              "all_columns": [], "percent_metrics": [], "adhoc_filters": [], "order_desc": True,
              "row_limit": 100, "server_page_length": 10, "table_timestamp_format": "smart_date",
              "show_cell_bars": True, "color_pn": True}
    return dict(name=name, dataset=dataset, viz="table", params=params)


PCT = ".1%"
DASHBOARDS = {
    "loan-portfolio": dict(
        title="Loan portfolio & PAR",
        filters=["period", "branch", "product"],
        rows=[
            [big_number("par_by_branch", "Gross loan portfolio", "gross_loan_portfolio", ",.0f",
                        "outstanding principal, latest month-end"),
             big_number("par_by_branch", "PAR>30", "par_30", PCT, "latest month-end"),
             big_number("par_by_branch", "Write-off ratio", "write_off_ratio", ".2%",
                        "annualised, latest month (always read beside PAR)")],
            [line("par_by_branch", "PAR trend", ["par_1", "par_30", "par_90", "arrears_rate"], fmt=PCT),
             bar("par_by_branch", "Aging of the overdue portfolio",
                 ["dpd_1_30", "dpd_31_60", "dpd_61_90", "dpd_91_180", "dpd_181_360", "dpd_over_360"],
                 stack=True, fmt=",.0f")],
            [bar("par_by_branch", "PAR by branch", ["par_1", "par_30", "par_90"], x="branch_name", fmt=PCT),
             bar("par_by_officer", "PAR>30 by loan officer", ["par_30"], x="loan_officer", fmt=PCT,
                 x_axis_sort="par_30", x_axis_sort_asc=False),
             bar("par_by_product", "PAR by product", ["par_1", "par_30", "par_90"], x="product_name",
                 fmt=PCT)],
            [bar("par_by_branch", "Gross loan portfolio by branch", ["gross_loan_portfolio"],
                 groupby=["branch_name"], stack=True, fmt=",.0f"),
             line("loan_flows", "Disbursements against collections", ["amount"], groupby=["flow"],
                  fmt=",.0f")],
        ]),
    "customers": dict(
        title="Customers",
        filters=["period", "branch", "lending_type"],
        rows=[
            [big_number("customer_growth", "Active borrowers", "active_borrowers_eom", ",d", "at month-end"),
             big_number("customer_growth", "Active clients", "active_clients_eom", ",d",
                        "borrowers or savers, at month-end"),
             big_number("customer_retention", "Borrower retention", "retention_rate", PCT,
                        "next loan within 90 days of closing one")],
            [line("customer_growth", "Customer growth", ["customers_to_date", "active_clients_eom",
                                                         "active_borrowers_eom"], fmt=",d"),
             bar("customers", "New customers by lending type", ["customers"], x="joined_on",
                 groupby=["lending_type"], stack=True, fmt=",d")],
            [pie("customers", "Activity segments", "customers", "activity_segment"),
             pie("customers", "Repayment segments", "customers", "repayment_segment"),
             line("customer_retention", "Retention trend", ["retention_rate"], fmt=PCT)],
            [bar("customers", "Lifetime value by balance segment", ["average_lifetime_value"],
                 x="balance_segment", fmt=",.0f"),
             table("customers", "Group vs individual borrowers", "lending_type",
                   ["customers", "active_borrowers", "principal_outstanding", "average_lifetime_value"])],
        ]),
    "fixed-deposits": dict(
        title="Fixed deposits & liquidity",
        filters=["period", "fd_product"],
        rows=[
            [big_number("fixed_deposits", "Fixed-deposit principal", "principal", ",.0f", "at month-end"),
             big_number("fixed_deposits", "Maturing within 90 days", "maturing_90_days", ",.0f",
                        "principal, at month-end"),
             big_number("financial_health", "Liquid ratio", "liquid_ratio", ".2f",
                        "cash and bank / short-term liabilities")],
            [bar("fixed_deposits", "Fixed-deposit portfolio by product", ["principal"],
                 groupby=["product_name"], stack=True, fmt=",.0f"),
             bar("fixed_deposit_maturities", "Maturity calendar (month ahead)",
                 ["principal_due", "interest_due"], x="bucket_start", stack=True, fmt=",.0f")],
            [bar("fixed_deposits", "Earnings: interest accrued per month", ["interest_accrued"],
                 groupby=["product_name"], stack=True, fmt=",.0f"),
             line("fixed_deposits", "Weighted average deposit rate", ["weighted_rate"], fmt=".2%"),
             line("financial_health", "Liquid ratio trend", ["liquid_ratio"], fmt=".2f")],
        ]),
    "financial-health": dict(
        title="Financial health",
        filters=["period"],
        rows=[
            [big_number("financial_health", "Operational self-sufficiency", "operational_self_sufficiency",
                        ".0%", "OSS, latest month"),
             big_number("financial_health", "Return on assets", "return_on_assets", ".1%",
                        "annualised, latest month"),
             big_number("financial_health", "Portfolio to assets", "portfolio_to_assets", ".0%",
                        "latest month-end")],
            [line("financial_health", "Self-sufficiency (OSS, FSS)",
                  ["operational_self_sufficiency", "financial_self_sufficiency"], fmt=".0%"),
             line("financial_health", "Returns (ROA, ROE)", ["return_on_assets", "return_on_equity"],
                  fmt=PCT)],
            [line("financial_health", "Yield on gross portfolio",
                  ["yield_on_gross_portfolio", "real_yield_on_gross_portfolio"], fmt=PCT),
             line("financial_health", "Cost of funds and operating expense ratio",
                  ["cost_of_funds", "operating_expense_ratio"], fmt=PCT),
             line("financial_health", "Debt to equity", ["debt_to_equity"], fmt=".2f")],
            [line("financial_health", "Productivity", ["borrowers_per_loan_officer"], fmt=",.0f"),
             line("financial_health", "Cost per borrower", ["cost_per_borrower"], fmt=",.0f"),
             line("loan_losses", "Loan losses", ["write_off_ratio", "loan_loss_rate"], fmt=".2%")],
        ]),
}

FILTERS = {
    "period": dict(name="Period", filterType="filter_time", dataset=None, column=None),
    "branch": dict(name="Branch", filterType="filter_select", dataset="branches", column="branch_name"),
    "product": dict(name="Loan product", filterType="filter_select", dataset="loan_products",
                    column="product_name"),
    "lending_type": dict(name="Group or individual", filterType="filter_select", dataset="customers",
                         column="lending_type"),
    "fd_product": dict(name="Deposit product", filterType="filter_select", dataset="fixed_deposits",
                       column="product_name"),
}


def native_filter(dash_slug: str, key: str, excluded: list[int]) -> dict:
    spec = FILTERS[key]
    fid = "NATIVE_FILTER-" + uid("filter", f"{dash_slug}:{key}")[:18]
    out = {
        "id": fid, "name": spec["name"], "filterType": spec["filterType"], "type": "NATIVE_FILTER",
        "description": "", "cascadeParentIds": [],
        "scope": {"rootPath": ["ROOT_ID"], "excluded": excluded},
        "defaultDataMask": {"extraFormData": {}, "filterState": {}, "ownState": {}},
    }
    if spec["filterType"] == "filter_time":
        out["targets"] = [{}]
        out["controlValues"] = {"enableEmptyFilter": False}
    else:
        out["targets"] = [{"column": {"name": spec["column"]}, "datasetUuid": uid("dataset", spec["dataset"])}]
        out["controlValues"] = {"enableEmptyFilter": False, "defaultToFirstItem": False, "multiSelect": True,
                                "searchAllOptions": False, "inverseSelection": False}
    return out


def dashboard_yaml(slug: str, spec: dict, chart_ids: dict[str, int]) -> dict:
    position = {"DASHBOARD_VERSION_KEY": "v2",
                "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
                "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
                "HEADER_ID": {"id": "HEADER_ID", "type": "HEADER", "meta": {"text": spec["title"]}}}
    maturity_ids = []
    for r, row in enumerate(spec["rows"]):
        row_id = f"ROW-{slug}-{r}"
        position["GRID_ID"]["children"].append(row_id)
        position[row_id] = {"type": "ROW", "id": row_id, "children": [], "parents": ["ROOT_ID", "GRID_ID"],
                            "meta": {"background": "BACKGROUND_TRANSPARENT"}}
        width = 12 // len(row)
        for chart in row:
            cid = f"CHART-{uid('chart', slug + ':' + chart['name'])[:10]}"
            position[row_id]["children"].append(cid)
            position[cid] = {"type": "CHART", "id": cid, "children": [],
                             "parents": ["ROOT_ID", "GRID_ID", row_id],
                             "meta": {"width": width, "height": 30 if chart["viz"] == "big_number" else 50,
                                      "chartId": chart_ids[chart["uuid"]], "uuid": chart["uuid"],
                                      "sliceName": chart["name"]}}
            if chart["dataset"] == "fixed_deposit_maturities":
                maturity_ids.append(chart_ids[chart["uuid"]])
    filters = [native_filter(slug, key, maturity_ids if key == "period" else [])
               for key in spec["filters"]]
    return {
        "dashboard_title": spec["title"],
        "description": None,
        "css": "",
        "slug": slug,
        "certified_by": None,
        "certification_details": None,
        "published": True,
        "uuid": uid("dashboard", slug),
        "position": position,
        "metadata": {"native_filter_configuration": filters, "color_scheme": "supersetColors",
                     "cross_filters_enabled": False, "refresh_frequency": 0, "expanded_slices": {},
                     "timed_refresh_immune_slices": [], "default_filters": "{}", "label_colors": {},
                     "shared_label_colors": [], "color_scheme_domain": []},
        "version": "1.0.0",
    }


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    for sub in ("databases", "datasets/finhouse_warehouse", "charts", "dashboards"):
        (OUT / sub).mkdir(parents=True)

    def dump(rel: str, doc: dict) -> None:
        (OUT / rel).write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110))

    dump("metadata.yaml", {"version": "1.0.0", "type": "Dashboard", "timestamp": "2026-11-24T00:00:00+00:00"})
    dump("databases/finhouse_warehouse.yaml", {
        "database_name": DB_NAME, "sqlalchemy_uri": "{{ FINHOUSE_WAREHOUSE_URI }}", "cache_timeout": None,
        "expose_in_sqllab": True, "allow_run_async": False, "allow_ctas": False, "allow_cvas": False,
        "allow_dml": False, "allow_file_upload": False,
        "extra": {"allows_virtual_table_explore": True},
        "impersonate_user": False, "uuid": uid("database", DB_NAME), "version": "1.0.0"})
    for name, spec in DATASETS.items():
        dump(f"datasets/finhouse_warehouse/{name}.yaml", dataset_yaml(name, spec))
    next_id = 1
    for slug, spec in DASHBOARDS.items():
        chart_ids = {}
        for row in spec["rows"]:
            for chart in row:
                chart["uuid"] = uid("chart", f"{slug}:{chart['name']}")
                chart_ids[chart["uuid"]] = next_id
                next_id += 1
                params = dict(chart["params"], datasource=f"{chart['dataset']}__table")
                fname = "".join(c if c.isalnum() else "_" for c in chart["name"]).strip("_")
                dump(f"charts/{fname}_{chart['uuid'][:8]}.yaml", {
                    "slice_name": chart["name"], "description": None, "certified_by": None,
                    "certification_details": None, "viz_type": chart["viz"], "params": params,
                    "query_context": None, "cache_timeout": None, "uuid": chart["uuid"], "version": "1.0.0",
                    "dataset_uuid": uid("dataset", chart["dataset"])})
        dump(f"dashboards/{slug}.yaml", dashboard_yaml(slug, spec, chart_ids))
    print(f"wrote {sum(1 for _ in OUT.rglob('*.yaml'))} files under {OUT}")


if __name__ == "__main__":
    main()
