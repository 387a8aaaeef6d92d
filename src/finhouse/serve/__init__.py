"""Serving: the copy of the marts the dashboards read, Superset's commands, and the metadata databases of
the services (Airflow's and Superset's)."""
