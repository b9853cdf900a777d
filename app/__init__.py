"""Fyers Alert Bridge: TradingView alerts in, exactly one Fyers option order out."""

from __future__ import annotations

import os

from flask import Flask

MAX_BODY_BYTES = 64 * 1024


def create_app(settings=None, services=None) -> Flask:
    """Build the Flask app; with no arguments, settings come from the environment and `.env`."""
    from app.bootstrap import bootstrap
    from app.settings import Settings
    from app.web import auth, errors, health, orders, webhook

    if services is None:
        if settings is None:
            from dotenv import load_dotenv

            load_dotenv()
            settings = Settings.from_env(os.environ)
        services = bootstrap(settings)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False
    app.extensions["bridge"] = services
    errors.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(webhook.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(orders.bp)
    return app
