"""Fixtures every suite shares."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def catalogues() -> None:
    """Compile the translations (what `make install` does), so the Japanese pages exist in any checkout."""
    from web.i18n import compile_catalogues

    compile_catalogues()
