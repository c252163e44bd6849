"""Fixtures of the site's suite: apps on the sample's key ring and a copy of the migrated SQLite log, one sample
certificate issued per session (issuing and encoding it is the slow part, so it is done once), and the site under
a real gunicorn.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.forgery import exact_forgery
from tests.support import create_key, fixed_key, make_app
from tests.web.helpers import ISSUER, SERIAL, SERIAL_SHEETS, SERIAL_V1, Sample


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    import verify
    from verify.paper import on_paper

    base = tmp_path_factory.mktemp("sample")
    keys_dir = base / "keys"
    ring = verify.KeyRing([fixed_key()])  # the exact forgery's verdict must not change from run to run
    ring.save(keys_dir, ring.get("test-2026"))
    cert = verify.issue(ring, serial=SERIAL, issuer=ISSUER)
    paper = on_paper(cert)  # what `python -m verify issue` writes: the front and the PDF as a kiosk prints them
    forged = exact_forgery(cert, ring)
    v1 = verify.issue(ring, serial=SERIAL_V1, issuer=ISSUER, version=1)
    sheets = [verify.issue(ring, serial=SERIAL_SHEETS, issuer=ISSUER, issued_on=dt.date(2026, 11, 2), sheet=(n, 3))
              for n in (1, 2, 3)]
    reissued = verify.issue(ring, serial=SERIAL_SHEETS, issuer=ISSUER, issued_on=dt.date(2026, 11, 9), sheet=(2, 3))
    files = base / "files"
    files.mkdir()
    back_png = verify.encode_image(cert.back, fmt="png")
    back_jpeg = verify.encode_image(cert.back, fmt="jpeg", quality=92)
    pdf = paper.pdf_bytes()
    (files / "back.png").write_bytes(back_png)
    (files / "back.jpg").write_bytes(back_jpeg)
    (files / "certificate.pdf").write_bytes(pdf)
    return Sample(keys_dir, files, cert.facts, paper.front, back_png, back_jpeg, pdf,
                  verify.encode_image(forged, fmt="png"), verify.encode_image(v1.back, fmt="png"),
                  tuple(verify.encode_image(s.back, fmt="png") for s in sheets),
                  verify.encode_image(reissued.back, fmt="png"))


@pytest.fixture
def app_factory(tmp_path: Path, sample: Sample, sqlite_template: Path) -> Iterator:
    """Build apps with config overrides, each on its own copy of the migrated log."""
    made = []

    def build(**overrides: Any):
        path = tmp_path / f"log-{len(made)}.db"
        shutil.copyfile(sqlite_template, path)
        app = make_app(f"sqlite:///{path}", sample.keys_dir, **overrides)
        made.append(app)
        return app

    yield build
    from web import db

    for app in made:
        db.get_engine(app).dispose()


@pytest.fixture
def app(app_factory):
    return app_factory()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def api_key(runner) -> str:
    """A fresh API key named "bank-a"."""
    return create_key(runner, "bank-a")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, sample: Sample, gunicorn: str) -> Iterator:
    """gunicorn with 2 workers on a free loopback port, shared by the HTTP and browser tests."""
    from tests.web import live

    server = live.start(gunicorn, tmp_path_factory.mktemp("live"), sample.keys_dir)
    yield server
    live.stop(server)


@pytest.fixture(scope="session")
def spec() -> dict[str, Any]:
    """The OpenAPI document the site serves (web/openapi.json)."""
    import json

    from web.api import OPENAPI_PATH

    return json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def blank_png() -> bytes:
    """A blank A4 page at 300 dpi, as a scanner sends an empty sheet."""
    import numpy as np

    import verify

    return verify.encode_image(np.full((3508, 2480, 3), 255, np.uint8), "png")
