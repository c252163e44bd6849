"""Languages: Japanese by default, English by the visible switch (``?lang=en``, remembered in a cookie) or by
the browser's Accept-Language. Catalogues live in ``translations/``; ``compile_catalogues`` builds the .mo files
(``make install``, the Dockerfile and the test suite call it; ``python -m web.i18n`` does too).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask, Response, current_app, g, request
from flask_babel import Babel, force_locale

from web import site_folder

JST = dt.timezone(dt.timedelta(hours=9), "JST")  # the certificates' time zone (Japan keeps no daylight saving)
COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
TRANSLATIONS = site_folder("translations")

babel = Babel()
log = logging.getLogger(__name__)


def select_locale() -> str:
    """The request's language: the switch, then the remembered choice, then Accept-Language, then the default."""
    if "lang" in g:
        return g.lang
    languages = current_app.config["LANGUAGES"]
    chosen = request.args.get("lang")
    if chosen not in languages:
        chosen = request.cookies.get(COOKIE)
    if chosen not in languages:
        chosen = request.accept_languages.best_match(languages) if request.accept_languages else None
    g.lang = chosen if chosen in languages else current_app.config["BABEL_DEFAULT_LOCALE"]
    return g.lang


def current_lang() -> str:
    """'ja' or 'en' for this request (the language of pipeline and web error messages)."""
    return select_locale()


@contextmanager
def in_language(lang: str) -> Iterator[None]:
    """Render within the block in ``lang``: the catalogue and the page's own idea of its language."""
    saved = current_lang()
    g.lang = lang
    try:
        with force_locale(lang):
            yield
    finally:
        g.lang = saved


def other_language() -> str:
    """The language the switch offers."""
    return next(lang for lang in current_app.config["LANGUAGES"] if lang != current_lang())


def _remember_switch(response: Response) -> Response:
    chosen = request.args.get("lang")
    if chosen is not None and chosen in current_app.config["LANGUAGES"] and request.cookies.get(COOKIE) != chosen:
        response.set_cookie(COOKIE, chosen, max_age=COOKIE_MAX_AGE, samesite="Lax", httponly=True,
                            secure=current_app.config["SESSION_COOKIE_SECURE"])
    response.vary.add("Accept-Language")
    response.vary.add("Cookie")
    return response


def init_app(app: Flask) -> None:
    """Install flask-babel with the locale selector and remember the switch in a cookie."""
    babel.init_app(app, locale_selector=select_locale)
    app.after_request(_remember_switch)
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            log.warning("%s is missing or older than its .po: run `make install` or `python -m web.i18n`", mo)


def compile_catalogues(directory: Path = TRANSLATIONS) -> list[Path]:
    """Compile every messages.po under ``directory`` to its .mo (what `pybabel compile` does); returns them."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted(directory.glob("*/LC_MESSAGES/messages.po")):
        with po.open("rb") as f:
            catalog = read_po(f, locale=po.parent.parent.name)
        mo = po.with_suffix(".mo")
        tmp = mo.with_suffix(".mo.tmp")
        with tmp.open("wb") as f:
            write_mo(f, catalog, use_fuzzy=False)
        tmp.replace(mo)
        written.append(mo)
    return written


if __name__ == "__main__":
    for path in compile_catalogues():
        print(f"compiled {path}")
