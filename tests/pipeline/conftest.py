"""Shared fixtures for the pipeline tests: a key ring and issued certificates, made once per session."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.support import fixed_key
from verify import IssuedCertificate, KeyRing, issue


@pytest.fixture(scope="session")
def keyring() -> KeyRing:
    """A fixed key, so that every run scrambles, scans and restores the same pixels."""
    return KeyRing([fixed_key()])


@pytest.fixture(scope="session")
def cert(keyring: KeyRing) -> IssuedCertificate:
    """The sample 住民票の写し, issued in format v3. The field cases these tests replay (a glare, a threshold, a
    fold under this key) were found on this back's block layout; a v4 back of the same serial, whose blocks derive
    from its sheet key, lays them out otherwise, and otherwise is the same back (tests/pipeline/test_sheets.py and
    the site's tests verify v4 backs)."""
    return issue(keyring, serial="TEST-000001", issued_on=dt.date(2026, 11, 27), version=3)


@pytest.fixture(scope="session")
def cert_v1(keyring: KeyRing) -> IssuedCertificate:
    """The sample issued in format v1: no data strip, no content bound."""
    return issue(keyring, serial="TEST-000011", issued_on=dt.date(2026, 11, 27), version=1)


@pytest.fixture(scope="session")
def other_cert(keyring: KeyRing) -> IssuedCertificate:
    """A second certificate with a different household and serial."""
    from verify.sample import default_fields, render_sample_front

    front = render_sample_front(default_fields(serial="TEST-000002", variant=1)).image
    return issue(keyring, front=front, serial="TEST-000002", issued_on=dt.date(2026, 11, 27))
