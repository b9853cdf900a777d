"""Fyers Alert Bridge: TradingView alerts in, exactly one Fyers option order out."""

from __future__ import annotations

import os

from flask import Flask

MAX_BODY_BYTES = 64 * 1024


def create_app(settings=None, services=None) -> Flask:
    """Build the Flask app; with no arguments, settings come from the environment and `.env`."""
    from app.bootstrap import bootstrap
    from app.logs import Redactor
    from app.settings import Settings
    from app.web import (
        auth,
        books,
        close_all,
        console,
        controls,
        errors,
        health,
        openapi,
        orders,
        paper,
        queue,
        report,
        request_context,
        smoke,
        trades,
        webhook,
    )

    if services is None:
        if settings is None:
            from dotenv import load_dotenv

            load_dotenv()
            settings = Settings.from_env(os.environ)
        redactor = _logging(settings, Redactor(settings.secrets()))
        services = bootstrap(settings, redactor=redactor)
    else:
        _logging(services.settings, services.redactor)
    app = Flask(__name__)
    # One byte over the limit is read, so that a chunked body (no Content-Length), which
    # werkzeug cuts off silently at the limit, is still seen to be too large.
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES + 1
    app.json.sort_keys = False
    app.extensions["bridge"] = services
    request_context.init_app(app)
    errors.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(webhook.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(orders.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(controls.bp)
    app.register_blueprint(queue.bp)
    app.register_blueprint(paper.bp)
    app.register_blueprint(trades.bp)
    app.register_blueprint(close_all.bp)
    app.register_blueprint(books.bp)
    app.register_blueprint(report.bp)
    app.register_blueprint(smoke.bp)
    console.init_app(app)
    return app


def _logging(settings, redactor):
    """Configure logging once per app, before anything else logs."""
    from app.logs import configure_logging, structured_wanted

    return configure_logging(
        settings.log_level,
        structured=structured_wanted(settings.use_cloud_logging, settings.cloud_run_service),
        log_file=settings.log_file,
        project_id=settings.google_cloud_project,
        redactor=redactor,
    )
