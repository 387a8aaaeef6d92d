"""The environment every test here starts from is the one `make test` gives pytest: the defaults of
.env.example that Make exports (those not derived from another variable; FINHOUSE_HOME absolute, as Make
sets it), for what the environment leaves unset or empty. A test run directly
(`.finhouse/venv/bin/pytest tests/…`) then sees the same settings, and the programs it starts get them: dbt
above all, whose profile and project keep no default of their own (tests/test_config.py)."""

from __future__ import annotations

import os

from finhouse import config as fh_config

for _name, _value in fh_config.defaults().items():
    if "${" not in _value and not os.environ.get(_name):
        os.environ[_name] = str(fh_config.home()) if _name == "FINHOUSE_HOME" else _value
