# serve/superset.mk — Superset in its own uv project, included by the top-level Makefile.
#
#   make superset-env           the environment .finhouse/superset-venv from serve/uv.lock
#   make superset-db            metadata database `superset` on the OLTP's server: upgrade, init, the admin
#                               (FINHOUSE_ADMIN_USER / FINHOUSE_ADMIN_PASSWORD or .finhouse/admin-password)
#                               and the read-only `viewer` (.finhouse/superset-viewer-password)
#   make superset-publish       publish the serving copy of the DuckDB warehouse (after a dbt build)
#   make superset-import        import serve/dashboards/ (the database URI from the environment)
#   make superset-export        rewrite serve/dashboards/ from Superset (after editing in the UI)
#   make superset-export-check  the export equals serve/dashboards/ (volatile fields normalised)
#   make superset-serve         serve Superset on $(SUPERSET_HOST):$(SUPERSET_PORT) (gunicorn)
#   make test-superset          serve/tests: round trip of the YAML, browser test in chromium
#
# Needs $(UV), $(FH), $(VENV_BIN) from the top-level Makefile. Every Superset command runs through
# serve/bin/with-env (config path, environment on PATH).

SS_DIR     := serve
SS_VENV    := $(FH)/superset-venv
SS_RUN     := $(SS_DIR)/bin/with-env
SS_SYNCED  := $(SS_VENV)/.synced
SUPERSET_HOST ?= 127.0.0.1
SUPERSET_PORT ?= 8088

.PHONY: superset-env superset-db superset-publish superset-import superset-export superset-export-check \
        superset-serve test-superset

$(SS_SYNCED): $(UV) $(UV_SETTINGS) $(SS_DIR)/pyproject.toml $(SS_DIR)/uv.lock
	UV_PROJECT_ENVIRONMENT=$(SS_VENV) $(UV) sync --frozen --quiet --project $(SS_DIR)
	@touch $@

superset-env: $(SS_SYNCED)  ## create or update the Superset environment

superset-db: superset-env env  ## Superset's metadata database: create, upgrade, init, admin and read-only viewer
	@scripts/ensure-postgres
	@FINHOUSE_ADMIN_PASSWORD="$$($(VENV_BIN)/finhouse admin-password)" $(SS_RUN) python $(SS_DIR)/fh_superset.py setup-db

superset-publish: env  ## publish the DuckDB warehouse's serving copy (FINHOUSE_SERVING_PATH)
	$(VENV_BIN)/python -m finhouse.serve.serving publish

superset-import: superset-env  ## import the dashboards kept as YAML in serve/dashboards/
	@$(SS_RUN) python $(SS_DIR)/fh_superset.py import

superset-export: superset-env  ## write Superset's dashboards back over serve/dashboards/
	@$(SS_RUN) python $(SS_DIR)/fh_superset.py export

superset-export-check: superset-env  ## exporting the dashboards gives serve/dashboards/ back
	@$(SS_RUN) python $(SS_DIR)/fh_superset.py export-check

superset-serve: superset-env  ## serve Superset on 127.0.0.1:8088
	$(SS_RUN) gunicorn -w 2 -k gthread --threads 4 --timeout 120 -b $(SUPERSET_HOST):$(SUPERSET_PORT) \
	  "superset.app:create_app()"

test-superset: superset-env env engine  ## Superset: YAML round trip, dashboards in chromium, viewer refused
	@scripts/system-deps
	@scripts/ensure-postgres
	$(SS_RUN) pytest -q $(SS_DIR)/tests
