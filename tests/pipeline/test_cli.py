"""``python -m verify``: keys, issue, restore, as an issuer and a verifier would run them."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from verify import errors
from verify.cli import FAMILIES, Exit, exit_code

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, keys: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CERTVERIFY_KEYS_DIR=str(keys), PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "verify", *args], capture_output=True, text=True, env=env,
                          timeout=120)


@pytest.fixture(scope="module")
def issued(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    keys = root / "keys"
    assert run("keys", "init", keys=keys).returncode == 0
    out = root / "cert"
    done = run("issue", "--out", str(out), "--serial", "CLI-000001", "--issued-on", "2026-11-27", keys=keys)
    assert done.returncode == 0, done.stderr
    return keys, out, json.loads(done.stdout)


def test_issue_writes_front_back_and_pdf(issued):
    _, out, report = issued
    assert report["certificate"]["serial"] == "CLI-000001"
    for name in ("front.png", "back.png"):
        img = cv2.imread(str(out / name))
        assert img.shape[:2] == (3508, 2480)  # A4 at 300 dpi
    pdf = (out / "certificate.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and b"/Count 2" in pdf


@pytest.mark.slow
def test_issue_prints_the_paper_front_on_the_pattern_and_signs_the_front_without_it(issued, tmp_path):
    """front.png is the issued front as a kiosk prints it, on the background pattern; ``--no-ground`` writes the
    front as issued. The back, which carries what the issuer signs, is the same either way."""
    from verify.paper import print_on_ground

    keys, out, _ = issued
    plain = tmp_path / "plain"
    done = run("issue", "--out", str(plain), "--serial", "CLI-000001", "--issued-on", "2026-11-27", "--no-ground",
               keys=keys)
    assert done.returncode == 0, done.stderr
    document = cv2.cvtColor(cv2.imread(str(plain / "front.png")), cv2.COLOR_BGR2RGB)
    printed = cv2.cvtColor(cv2.imread(str(out / "front.png")), cv2.COLOR_BGR2RGB)
    assert (document.min(axis=2) == 255).mean() > 0.8  # the document: blank paper between its text and rules
    assert np.array_equal(printed, print_on_ground(document))
    assert (plain / "back.png").read_bytes() == (out / "back.png").read_bytes()


def test_restore_prints_the_facts_and_writes_the_front(issued, tmp_path):
    keys, out, _ = issued
    restored = tmp_path / "restored.png"
    done = run("restore", str(out / "back.png"), "--out", str(restored), keys=keys)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["ok"] is True
    assert result["format_version"] == 4 and result["content"]["bound"] is True
    assert (result["sheet"], result["sheets"]) == (1, 1)
    assert result["serial"] == "CLI-000001"
    assert result["issued_on"] == "2026-11-27"
    assert result["signature"] == "valid"
    assert (result["issuer"], result["issuer_name"]) == ("990001", "見本市")  # a development ring names the sample's
    assert {"dpi", "coherence"} <= set(result["quality"])
    img = cv2.imread(str(restored))
    assert img.shape[:2] == (1856, 1312)


def test_restore_failure_is_json_and_nonzero(issued, tmp_path):
    keys, _, _ = issued
    bogus = tmp_path / "scan.png"
    bogus.write_text("not an image")
    done = run("restore", str(bogus), "--lang", "ja", keys=keys)
    assert done.returncode == Exit.INPUT
    result = json.loads(done.stdout)
    assert result["ok"] is False
    assert result["error"]["code"] == "unsupported_format"
    assert "JPEG" in result["error"]["message"]


def test_restore_with_a_foreign_ring_says_unknown_key(issued, tmp_path):
    _, out, _ = issued
    other = tmp_path / "other-keys"
    run("keys", "init", "--key-id", "other-2026", keys=other)
    done = run("restore", str(out / "back.png"), keys=other)
    assert done.returncode == Exit.CODE
    assert json.loads(done.stdout)["error"]["code"] == "unknown_key"


@pytest.mark.slow
def test_an_issuer_names_the_regions_its_signature_binds(issued, tmp_path):
    keys, out, _ = issued
    regions = tmp_path / "regions.json"
    regions.write_text(json.dumps({"name": {"box": [418, 720, 1094, 799], "text": "見本　太郎"},
                                   "address": [418, 454, 2299, 551]}, ensure_ascii=False), encoding="utf-8")
    done = run("issue", "--out", str(tmp_path / "named"), "--front", str(out / "front.png"), "--serial",
               "CLI-000002", "--regions", str(regions), keys=keys)
    assert done.returncode == 0, done.stderr
    result = json.loads(run("restore", str(tmp_path / "named" / "back.png"), keys=keys).stdout)
    assert result["content"]["bound"] is True and result["content"]["regions"] == 2
    signed = result["content"]["signed_text"]  # the address has none given
    assert [(f["name"], f["text"]) for f in signed] == [("name", "見本　太郎")] and len(signed[0]["box"]) == 4
    regions.write_text('{"name": [1, 2]}')
    bad = run("issue", "--out", str(tmp_path / "bad"), "--front", str(out / "front.png"), "--regions", str(regions),
              keys=keys)
    assert bad.returncode == Exit.INPUT and "regions" in bad.stderr
    regions.write_text(json.dumps({"name": {"box": [418, 720, 1094, 799], "text": "a\u0007bell"}}))
    bad = run("issue", "--out", str(tmp_path / "bad"), "--front", str(out / "front.png"), "--regions", str(regions),
              keys=keys)
    assert bad.returncode == Exit.INPUT and "control" in bad.stderr


def test_an_altered_back_prints_one_json_line_naming_the_fields(tmp_path):
    """The tamper map that an ``altered`` answer carries is a picture for the site, not part of the CLI's JSON.
    Under the tests' fixed key: under a random one an exact forgery is now and then only ``content_unconfirmed``
    (where the block map puts the changed strokes), which this test is not about."""
    from tests.forgery import exact_forgery
    from tests.support import fixed_key
    from verify import KeyRing, encode_image, issue

    keys = tmp_path / "keys"
    ring = KeyRing([fixed_key()])
    ring.save(keys, ring.get("test-2026"))
    cert = issue(ring, serial="CLI-000002", issued_on=dt.date(2026, 11, 27))
    forged = tmp_path / "forged.png"
    forged.write_bytes(encode_image(exact_forgery(cert, ring), "png"))
    done = run("restore", str(forged), keys=keys)
    assert done.returncode == Exit.REFUSED, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and not done.stderr
    error = json.loads(lines[0])["error"]
    assert error["code"] == "altered"
    assert "address" in {r["name"] for r in error["context"]["regions"]}
    assert "tamper_map" not in error["context"]


def test_an_upright_scan_reads_a_rotation_near_zero(issued):
    keys, out, _ = issued
    result = json.loads(run("restore", str(out / "back.png"), keys=keys).stdout)
    assert -180 < result["quality"]["rotation_deg"] <= 180 and abs(result["quality"]["rotation_deg"]) < 0.5


def test_keys_init_names_the_issuers_a_key_signs_for(tmp_path):
    keys = tmp_path / "keys"
    done = run("keys", "init", "--issuer", "131016=東京都台東区", "--issuer", "131024=東京都墨田区", keys=keys)
    assert done.returncode == 0, done.stderr
    data = json.loads(next(keys.glob("*.json")).read_text("utf-8"))
    assert data["issuers"] == {"131016": "東京都台東区", "131024": "東京都墨田区"}
    for bad in ("131016", "13-1016=台東区", "131016="):
        refused = run("keys", "init", "--key-id", "other", "--issuer", bad, keys=tmp_path / "other")
        assert refused.returncode == Exit.INPUT and "cannot create the key" in refused.stderr and "Traceback" not in refused.stderr


def test_every_error_belongs_to_one_exit_family():
    """A new error class must be given its family: otherwise a script would read it as a crash (1)."""
    for cls in errors.all_error_classes():
        families = [code for classes, code in FAMILIES if issubclass(cls, classes)]
        assert len(families) == 1, f"{cls.code} is in {families}"
    # an accusation and a request to scan again never share an exit code (a script must not read one as the other)
    assert exit_code(errors.Altered) == exit_code(errors.ScrambleMismatch) == Exit.REFUSED
    for rescan in (errors.ScanUnrestorable, errors.ContentUnverifiable, errors.ContentUnconfirmed):
        assert exit_code(rescan) == Exit.RESCAN


@pytest.mark.slow
def test_exit_codes_of_each_family_from_the_command_line(issued, tmp_path):
    keys, out, _ = issued
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((3508, 2480), 250, np.uint8))
    one_bit = tmp_path / "fax.png"  # strokes drop out of 1-bit scans: the content cannot be compared
    back = cv2.imread(str(out / "back.png"), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(one_bit), np.where(back > 128, 255, 0).astype(np.uint8))
    cases = [
        (("restore", str(tmp_path / "missing.png")), keys, Exit.INPUT, "io_error"),
        (("restore", str(blank)), keys, Exit.LOCATE, "markers_not_found"),
        (("restore", str(one_bit)), keys, Exit.RESCAN, "content_unverifiable"),
        (("restore", str(out / "back.png")), tmp_path / "no-ring", Exit.CONFIGURATION, "configuration"),
    ]
    for args, ring, expected, code in cases:
        done = run(*args, keys=ring)
        assert done.returncode == expected, (args, done.stdout, done.stderr)
        assert json.loads(done.stdout)["error"]["code"] == code and "Traceback" not in done.stderr
    bad_date = run("issue", "--out", str(tmp_path / "x"), "--issued-on", "2026-13-40", keys=keys)
    assert bad_date.returncode == Exit.INPUT and "YYYY-MM-DD" in bad_date.stderr and "Traceback" not in bad_date.stderr
    assert run("restore", keys=keys).returncode == Exit.USAGE


def test_the_installed_command_is_the_cli(tmp_path):
    """``pip install`` puts a ``certverify`` command beside the interpreter, with the same exit codes."""
    from importlib.metadata import entry_points

    (entry,) = [e for e in entry_points(group="console_scripts") if e.name == "certverify"]
    assert entry.value == "verify.cli:main"
    command = Path(sys.executable).with_name("certverify")
    done = subprocess.run([str(command), "restore", str(tmp_path / "missing.png")], capture_output=True, text=True,
                          env=dict(os.environ, CERTVERIFY_KEYS_DIR=str(tmp_path)), timeout=120)
    assert done.returncode == Exit.INPUT and json.loads(done.stdout)["error"]["code"] == "io_error"
