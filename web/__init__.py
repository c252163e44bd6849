"""The web layer of certverify: a thin Flask shell around the ``verify`` pipeline, built by ``create_app``.

An installed site is served as ``web:create_app()`` (``flask --app web``); a checkout keeps the top-level ``app.py``,
which re-exports the factory, so ``app:create_app()`` and ``flask --app app`` work there as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, jsonify

PACKAGE = Path(__file__).resolve().parent


def site_folder(name: str) -> Path:
    """The site's ``templates``, ``static``, ``translations`` or ``migrations`` folder: inside the package in an
    installed wheel (the build copies them there, see setup.py), else at the root of the checkout beside it."""
    packaged = PACKAGE / name
    return packaged if packaged.is_dir() else PACKAGE.parent / name


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the site: configuration, hardening, languages, rate limits, the pipeline, the log, the blueprints."""
    app = Flask(__name__, instance_relative_config=True, static_folder=site_folder("static"),
                template_folder=site_folder("templates"))

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
