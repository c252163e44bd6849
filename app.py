"""The application factory's entry in a checkout: gunicorn serves ``app:create_app()`` and ``flask --app app`` finds
it here. The factory itself is ``web.create_app``, so that an installed package carries it too."""

from __future__ import annotations

from web import create_app

__all__ = ["create_app"]
