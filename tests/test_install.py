"""The package as a user installs it: the wheel built from the source distribution (PyPA's build, as a release is),
installed into a fresh virtual environment and used from outside the checkout.

Each environment holds exactly what the wheel's metadata declares for the extras asked for, and nothing else: its
dependencies are not downloaded but linked from this environment's installed distributions, following their own
declared requirements, so the test runs offline and in seconds, and a module imported but not declared is missing
there as it would be after ``pip install``. The library gets the base dependencies only; the site gets ``[web]``
without ``[issue]`` or ``[scale]``, a verify-only site on its embedded defaults.
"""

from __future__ import annotations

import email.parser
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import cv2
import numpy as np
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import verify
from tests.support import fixed_key, free_port, http_request, wait_http

ROOT = Path(__file__).resolve().parents[1]
SECRET = "test-secret-key-for-the-install-test-only"
pytestmark = pytest.mark.slow  # every test here needs the wheel built (about half a minute)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from the sdist without a network (the build backend is installed here)."""
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (found,) = out.glob("certverify-*.whl")
    return found


def test_the_wheel_carries_the_site_and_nothing_of_the_checkout(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("web/__init__.py", "web/openapi.json", "web/templates/upload.html", "web/templates/audit/index.html",
                   "web/static/css/site.css", "web/static/js/upload.js", "web/translations/ja/LC_MESSAGES/messages.mo",
                   "web/migrations/env.py", "web/migrations/versions/0001_initial.py", "verify/py.typed",
                   "web/py.typed"):
        assert needed in names, needed
    tops = {name.split("/", 1)[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"verify", "web"}
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".po~"))]


# --- environments made of the declared dependencies -------------------------------------------------------------


def _declared(wheel: Path) -> list[str]:
    """The wheel's Requires-Dist lines."""
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(zf.read(name).decode()).get_all("Requires-Dist") or []


def _closure(requirements: list[str], extras: set[str]) -> list[metadata.Distribution]:
    """The installed distributions that ``requirements`` reach, with ``extras``, through their own requirements."""
    reached: dict[str, metadata.Distribution] = {}
    visited: set[tuple[str, str]] = set()
    stack = [(text, frozenset(extras)) for text in requirements]
    while stack:
        text, active = stack.pop()
        req = Requirement(text)
        if req.marker and not any(req.marker.evaluate({"extra": e}) for e in {"", *active}):
            continue
        name = canonicalize_name(req.name)
        assert name != "certverify", "the package requires itself with more extras than asked for"
        wanted = {""} | set(req.extras)
        if all((name, e) in visited for e in wanted):
            continue
        visited.update((name, e) for e in wanted)
        dist = metadata.distribution(req.name)
        reached[name] = dist
        stack.extend((sub, frozenset(req.extras)) for sub in dist.requires or [])
    return list(reached.values())


def _link(dists: list[metadata.Distribution], target: Path) -> None:
    """Make ``target`` a directory of links to the files of ``dists`` (their packages, modules and metadata)."""
    target.mkdir()
    for dist in dists:
        assert dist.files, f"{dist.metadata['Name']} lists no files"
        for top in {f.parts[0] for f in dist.files if f.parts[0] != ".."}:
            source = Path(str(dist.locate_file(top)))
            link = target / top
            if source.exists() and not link.exists():
                link.symlink_to(source)


def _environment(tmp: Path, wheel: Path, extras: set[str]) -> Path:
    """A fresh virtual environment, outside the checkout, with the wheel installed; returns its python."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    _link(_closure(_declared(wheel), extras), tmp / "dependencies")
    Path(purelib, "dependencies.pth").write_text(f"{tmp / 'dependencies'}\n")
    # pip's --no-index: every declared requirement must be met by the linked distributions, or the install fails.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")} | {"PIP_CONFIG_FILE": os.devnull}
    spec = f"{wheel}[{','.join(sorted(extras))}]" if extras else str(wheel)
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                                "--no-index", spec], capture_output=True, text=True, env=env, timeout=300)
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    return python


def _clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without anything that could lead back to the checkout or configure the site."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CERTVERIFY_", "FLASK_", "PYTHON", "VIRTUAL_ENV", "DATABASE_URL", "RATELIMIT_"))}
    return env | {"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"} | settings


def _run(python: Path, *args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180)


def _installed_file(python: Path, module: str, cwd: Path, env: dict[str, str]) -> Path:
    done = _run(python, "-c", f"import {module}; print({module}.__file__)", cwd=cwd, env=env)
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip())


# --- the library ----------------------------------------------------------------------------------------------


def test_the_library_alone_verifies_and_leaves_issuing_and_the_site_out(wheel: Path, tmp_path: Path) -> None:
    python = _environment(tmp_path, wheel, set())
    work = tmp_path / "work"
    work.mkdir()
    env = _clean_env()
    assert _installed_file(python, "verify", work, env).is_relative_to(tmp_path / "venv")
    for absent in ("flask", "gunicorn", "sqlalchemy", "psycopg", "redis", "segno", "img2pdf"):
        probe = _run(python, "-c", f"import {absent}", cwd=work, env=env)
        assert "ModuleNotFoundError" in probe.stderr, f"{absent} is installed with the library alone"

    helped = _run(python, "-m", "verify", "--help", cwd=work, env=env)
    assert helped.returncode == 0 and "restore" in helped.stdout, helped.stderr
    script = subprocess.run([str(python.parent / "certverify"), "--help"], cwd=work, env=env, capture_output=True,
                            text=True, timeout=60)
    assert script.returncode == 0 and "issue" in script.stdout, script.stderr

    assert _run(python, "-m", "verify", "keys", "init", "--dir", "keys", cwd=work, env=env).returncode == 0
    # A blank page goes through decoding and locating (OpenCV, zxing-cpp, the intake's decoders): exit 4, named.
    cv2.imwrite(str(work / "blank.png"), np.full((3508, 2480), 255, np.uint8))
    restored = _run(python, "-m", "verify", "restore", "blank.png", "--keys", "keys", cwd=work, env=env)
    assert restored.returncode == 4, restored.stdout + restored.stderr
    assert json.loads(restored.stdout)["error"]["code"] == "markers_not_found"
    # Issuing needs its extra and says so: a configuration error (exit 8), not a traceback.
    issued = _run(python, "-m", "verify", "issue", "--out", "out", "--keys", "keys", cwd=work, env=env)
    assert issued.returncode == 8, issued.stdout + issued.stderr
    error = json.loads(issued.stdout)["error"]
    assert error["code"] == "configuration" and "certverify[issue]" in error["detail"]


# --- the site -------------------------------------------------------------------------------------------------


@pytest.fixture
def installed_site(wheel: Path, tmp_path: Path) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """The wheel with [web] alone, migrated and served by gunicorn from a folder outside the checkout, with the
    deployment's gunicorn.conf.py beside it (as the Dockerfile copies it); yields (url, python, env)."""
    python = _environment(tmp_path, wheel, {"web"})
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(ROOT / "gunicorn.conf.py", site)
    key = fixed_key()
    verify.KeyRing([key]).save(site / "keys", key)
    env = _clean_env(SECRET_KEY=SECRET, CERTVERIFY_KEYS_DIR=str(site / "keys"),
                     DATABASE_URL=f"sqlite:///{site / 'log.db'}", CERTVERIFY_SESSION_COOKIE_SECURE="false",
                     CERTVERIFY_WORKERS="1")
    assert _installed_file(python, "web", site, env).is_relative_to(tmp_path / "venv")
    migrated = _run(python, "-m", "flask", "--app", "web", "db", "upgrade", cwd=site, env=env)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    port = free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        server = subprocess.Popen([str(python), "-m", "gunicorn", "--config", "gunicorn.conf.py", "--bind",
                                   f"127.0.0.1:{port}", "web:create_app()"],
                                  cwd=site, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/healthz", timeout=60, proc=server, log=log)
        yield url, python, env
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


@pytest.mark.gunicorn  # the wheel's own gunicorn, in a fresh environment
def test_the_installed_site_serves_its_pages_and_its_api(installed_site: tuple[str, Path, dict[str, str]],
                                                          tmp_path: Path) -> None:
    url, python, env = installed_site
    status, headers, body = http_request(url + "/")
    page = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert 'id="upload-form"' in page and 'enctype="multipart/form-data"' in page and 'name="scan"' in page
    assert "この画像で確認する" in page, "the Japanese catalogue is missing from the wheel"
    assert "Check this scan" in http_request(url + "/?lang=en")[2].decode()
    assert "/static/css/site.css" in page
    status, headers, body = http_request(url + "/static/css/site.css")
    assert status == 200 and headers["Content-Type"].startswith("text/css") and b"{" in body

    status, headers, body = http_request(url + "/api/v1/openapi.json")
    assert status == 200, body[:500]
    document = json.loads(body)
    assert document["openapi"].startswith("3.1") and "/api/v1/verifications" in document["paths"]

    # The verify-only site verifies a real back (issued here, where issuing is installed), over the API.
    created = _run(python, "-m", "flask", "--app", "web", "api-keys", "create", "install-test", cwd=tmp_path, env=env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    ring = verify.KeyRing([fixed_key()])
    back = verify.encode_image(verify.issue(ring, serial="20261206-0000000042").back, "png")
    request = urllib.request.Request(url + "/api/v1/verifications?image=none", data=back, method="POST",
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "image/png"})
    with urllib.request.urlopen(request, timeout=120) as response:
        answer = json.loads(response.read())
    assert answer["outcome"] == "verified" and answer["certificate"]["serial"] == "20261206-0000000042"
    # An installed site keeps its instance folder where Flask puts an installed app's: <prefix>/var/web-instance.
    assert (tmp_path / "venv" / "var" / "web-instance" / "ratelimits.db").is_file()
