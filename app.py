"""The application factory; gunicorn serves ``app:create_app()`` and ``flask`` finds it here."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the site: configuration, hardening, languages, rate limits, the pipeline, the log, the blueprints."""
    app = Flask(__name__, instance_relative_config=True, static_folder="static", template_folder="templates")

    from web import config

    config.load(app, test_config)

    from web import handlers, i18n, requestlog, security, service
    from web.ratelimit import limiter

    security.init_app(app)
    requestlog.init_app(app)
    i18n.init_app(app)
    limiter.init_app(app)
    handlers.init_app(app)
    service.init_app(app)

    # --- the verification log, API keys and the auditors' console -------------------------------------------
    from web import apikeys, auditlog, console, db

    db.init_app(app)
    auditlog.init_app(app)
    apikeys.init_app(app)
    console.init_app(app)
    # ----------------------------------------------------------------------------------------------------------

    from web import api, public

    security.csrf.exempt(api.bp)
    app.register_blueprint(public.bp)
    app.register_blueprint(api.bp)

    @app.get("/healthz")
    def healthz() -> Any:
        """Liveness and readiness for probes: the process answers and its key ring is loaded."""
        ring = service.state().ring
        if ring is None or not len(ring):
            return jsonify(status="unavailable", keys=0), 503
        return jsonify(status="ok", keys=len(ring))

    limiter.exempt(healthz)
    return app
