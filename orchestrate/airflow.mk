# orchestrate/airflow.mk — Airflow 3 in its own uv project, included by the top-level Makefile.
#
#   make airflow-env    the environment .finhouse/airflow-venv from orchestrate/uv.lock (+ src/ on its path)
#   make airflow-db     create the metadata database `airflow` on the OLTP's server, migrate, pool
#   make test-airflow   orchestrate/tests: DagBag, every DAG through dag.test() on real databases
#   make airflow-demo   run the six ingestion DAGs, then the transform DAG, once through Airflow
#
# Needs $(UV), $(FH) and $(PYTHON) from the top-level Makefile. Every Airflow command runs through
# orchestrate/bin/with-env, the one place that sets AIRFLOW_HOME (.finhouse/airflow), the dags folder and
# the metadata database (see that file).

AF_DIR    := orchestrate
AF_VENV   := $(FH)/airflow-venv
AF_RUN    := $(AF_DIR)/bin/with-env
AF_SYNCED := $(AF_VENV)/.synced
# finhouse's stdlib-only modules (finhouse.config, .ingest, .registry, .orchestration, …) are put on the environment's
# path rather than installed: installing the package would pull Django and the platform's libraries.
AF_PTH    := finhouse_src.pth

.PHONY: airflow-env airflow-db test-airflow airflow-demo

$(AF_SYNCED): $(UV) $(UV_SETTINGS) $(AF_DIR)/pyproject.toml $(AF_DIR)/uv.lock
	UV_PROJECT_ENVIRONMENT=$(AF_VENV) $(UV) sync --frozen --quiet --project $(AF_DIR)
	@site=$$($(AF_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
	  && echo "$(CURDIR)/src" > "$$site/$(AF_PTH)"
	@touch $@

airflow-env: $(AF_SYNCED)  ## create or update the Airflow environment

airflow-db: airflow-env  ## Airflow's metadata database: create, migrate, pool warehouse_writer
	@scripts/ensure-postgres
	@$(AF_RUN) python $(AF_DIR)/bin/setup-db

# The transform DAG is rendered from dbt's manifest (and not declared without one): dbt-manifest first.
test-airflow: airflow-env env engine dbt-manifest  ## Airflow: DagBag, every DAG through dag.test() on real databases
	@scripts/ensure-postgres
	$(AF_RUN) pytest -q $(AF_DIR)/tests

airflow-demo: airflow-db engine dbt-manifest  ## run the ingestion DAGs, then the transform DAG, once through Airflow
	@$(AF_RUN) python $(AF_DIR)/bin/run-dags
