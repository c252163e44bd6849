"""Issuing signs the front it is given; the kiosk's background pattern (地紋) is put on the paper copy only."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np

from verify import issue
from verify.paper import on_paper, print_on_ground
from verify.sample import default_fields, render_sample_front


def test_issue_keeps_the_front_it_is_given(keyring):
    page = np.full((1754, 1240, 3), 255, np.uint8)
    page[200:260, 150:1000] = (30, 30, 30)
    page[400:700, 150:600] = (200, 40, 40)
    cert = issue(keyring, front=page, serial="TEST-000051", issued_on=dt.date(2026, 11, 27), version=1)
    assert np.array_equal(cert.front, page)


def test_the_sample_is_issued_without_the_pattern(cert):
    drawn = render_sample_front(default_fields(serial="TEST-000001", issued_on=dt.date(2026, 11, 27))).image
    assert np.array_equal(cert.front, drawn)
    assert (cert.front.min(axis=2) == 255).mean() > 0.8  # blank paper between the text and rules, untinted


def test_on_paper_prints_the_front_on_the_pattern_and_leaves_the_rest(cert):
    before = cert.front.copy()
    paper = on_paper(cert)
    assert np.array_equal(paper.front, print_on_ground(cert.front))
    blank = cert.front.min(axis=2) == 255
    assert (paper.front[blank].min(axis=1) < 250).mean() > 0.2  # the paper is tinted by the pattern
    ink = cert.front.max(axis=2) < 60
    assert np.abs(paper.front[ink].astype(int) - cert.front[ink]).max() <= 20  # and the text is the same
    assert paper.back is cert.back and paper.code == cert.code and paper.facts == cert.facts
    assert paper.fingerprint == cert.fingerprint
    assert np.array_equal(cert.front, before)  # the issued certificate is left as it was
    assert {f.name for f in dataclasses.fields(paper)} == {f.name for f in dataclasses.fields(cert)}
