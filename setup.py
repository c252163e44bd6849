"""The build step that makes an installed site complete (the rest of the packaging is in pyproject.toml).

The repository keeps the site's ``templates/``, ``static/``, ``translations/`` and ``migrations/`` at its root, beside
``app.py``. Building a wheel copies them into the ``web`` package and compiles the translation catalogues there, so
that an installed site finds them beside its code (``web.site_folder``) with no checkout at hand. An editable
install copies nothing: the checkout's own folders are used in place.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SITE_FOLDERS = ("templates", "static", "translations", "migrations")


class BuildWithSiteFolders(build_py):
    """build_py, then the site's folders into ``web/`` with compiled catalogues."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        package = Path(self.build_lib) / "web"
        for name in SITE_FOLDERS:
            target = package / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(name, target, ignore=shutil.ignore_patterns("__pycache__", "*.py[co]", "*.mo", "*.pot"))
        # Babel's own `pybabel compile`, as `make install` runs it on the checkout.
        from babel.messages.frontend import CommandLineInterface

        if CommandLineInterface().run(["pybabel", "compile", "-d", str(package / "translations")]):
            raise SystemExit("compiling the translation catalogues failed")


setup(cmdclass={"build_py": BuildWithSiteFolders})
