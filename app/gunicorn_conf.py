"""gunicorn's settings module (`-c python:app.gunicorn_conf` in the Dockerfile's CMD): its logging.

On Cloud Run (`K_SERVICE` set) or with `USE_CLOUD_LOGGING=true`, gunicorn's own lines ("Starting
gunicorn", "Booting worker", signals, errors) and Python's warnings are the app's JSON objects, one a
line with a `severity`, redacted like the app's (app/logs.py). Elsewhere `logconfig_dict` is empty and
gunicorn prints its usual text. The server's other settings stay on the CMD line, where they are read.
"""

from __future__ import annotations

import logging
import os
from dataclasses import fields
from typing import Mapping

from dotenv import load_dotenv

from app.env_vars import ConfigError, Env
from app.logs import Redactor, gunicorn_logconfig, structured_wanted
from app.settings import PAPER_DEFAULT_SECRET, Settings


def _structured(environ: Mapping[str, str]) -> bool:
    """The app's choice (app/__init__.py), made from the same variables."""
    env = Env(environ)
    try:
        use_cloud_logging = env.flag("USE_CLOUD_LOGGING", False)
    except ConfigError:  # the worker's settings report it; gunicorn's lines need not fail over it
        use_cloud_logging = False
    return structured_wanted(use_cloud_logging, env.text("K_SERVICE"))


def _secrets(environ: Mapping[str, str]) -> list[str]:
    """The secret values in the environment (Cloud Run passes Secret Manager's as variables)."""
    variables = {f.name: f.metadata["variable"] for f in fields(Settings) if "variable" in f.metadata}
    values = (environ.get(variables[name], "").strip() for name in Settings.secret_names if name in variables)
    return [value for value in values if value and value != PAPER_DEFAULT_SECRET]


load_dotenv()  # as create_app does, so that gunicorn and the app read the same USE_CLOUD_LOGGING
logconfig_dict = gunicorn_logconfig(_structured(os.environ), Redactor(_secrets(os.environ)))
if logconfig_dict:
    logging.captureWarnings(True)  # a library's warning is then a JSON line too, not text on stderr
