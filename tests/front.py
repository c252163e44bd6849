"""Paper fronts for the front comparison's tests and bench/front.py: the genuine sheet as a kiosk prints it and the
altered sheets forgers make from it.

Every alteration starts from a household of ``verify.sample`` and returns the paper front (RGB, A4 at 300 dpi)
with the names of the bound regions it changed:

- ``digit``: one digit of the address or of a birth date changed, the page edited digitally and reprinted on plain
  paper with a look-alike background pattern;
- ``name``: one character of a resident's name replaced (reprinted the same way);
- ``removed``: the last resident's line removed; ``pasted``: a resident's line replaced by one from another
  household's certificate;
- ``tape``: a digit of a birth date covered with correction tape on the genuine sheet and written over by hand.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import cv2
import numpy as np

from verify import IssuedCertificate, KeyRing, issue
from verify.paper import print_on_ground
from verify.sample import (
    SampleFields,
    SampleFront,
    default_fields,
    protected_regions,
    protected_texts,
    render_sample_front,
)

ALTERATIONS = ("digit", "name", "removed", "pasted", "tape")
_SWAP = "田中山川木村林森"  # the character put in place of one of a name's


@dataclasses.dataclass
class Household:
    """A sample certificate: its fields, its rendered front, the issued back and the paper front as printed."""

    fields: SampleFields
    front: SampleFront
    cert: IssuedCertificate
    paper: np.ndarray  # the front over the kiosk's background pattern


def household(keyring: KeyRing, variant: int, version: int = 3) -> Household:
    """The household ``variant`` of the sample, issued (format ``version``) and printed."""
    serial = f"FRONT-{variant:06d}"
    fields = default_fields(serial=serial, variant=variant)
    front = render_sample_front(fields)
    cert = issue(keyring, front=front.image, serial=serial, issued_on=dt.date(2026, 11, 27), version=version,
                 regions=protected_regions(front) if version >= 2 else None,
                 texts=protected_texts(front) if version >= 3 else None)
    return Household(fields, front, cert, print_on_ground(front.image))


def lookalike_ground(page: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``page`` printed over a copy of the background pattern that is off the genuine one by a few pixels: what a
    forger's printer makes of a pattern scanned from a genuine sheet."""
    ground = print_on_ground(np.full_like(page, 255))
    dy, dx = (int(v) for v in rng.integers(3, 30, size=2))
    ground = np.roll(ground, (dy, dx), axis=(0, 1))
    return ((page.astype(np.uint16) * ground + 127) // 255).astype(np.uint8)


def _changed_digit(text: str, rng: np.random.Generator) -> str | None:
    """``text`` with one of its digits replaced by another, or None when it has none."""
    places = [i for i, ch in enumerate(text) if ch.isdigit()]
    if not places:
        return None
    i = int(rng.choice(places))
    new = str((int(text[i]) + int(rng.integers(1, 9))) % 10)
    return text[:i] + new + text[i + 1:]


def _with_resident(fields: SampleFields, k: int, **changes: str) -> SampleFields:
    residents = list(fields.residents)
    residents[k] = dataclasses.replace(residents[k], **changes)
    return dataclasses.replace(fields, residents=tuple(residents))


def _digit_edit(fields: SampleFields, rng: np.random.Generator) -> tuple[SampleFields, str]:
    """The fields with one digit of the address or of a birth date changed, and the region that changed."""
    targets = [("address", -1)] if any(ch.isdigit() for ch in fields.address) else []
    targets += [(f"resident{k}.birth", k) for k in range(len(fields.residents))]
    name, k = targets[int(rng.integers(len(targets)))]
    if k < 0:
        return dataclasses.replace(fields, address=_changed_digit(fields.address, rng) or fields.address), name
    birth = _changed_digit(fields.residents[k].birth, rng) or fields.residents[k].birth
    return _with_resident(fields, k, birth=birth), name


def alter(h: Household, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, set[str]]:
    """The paper front of ``h`` altered the ``kind`` way (one of ALTERATIONS), and the regions it changed."""
    fields = h.fields
    n = len(fields.residents)
    if kind == "digit":
        fields, name = _digit_edit(fields, rng)
        changed = {name}
    elif kind == "name":
        k = int(rng.integers(n))
        old = fields.residents[k].name
        places = [i for i, ch in enumerate(old) if not ch.isspace()]
        i = int(rng.choice(places))
        new = next(ch for ch in rng.permutation(list(_SWAP)) if ch != old[i])
        fields = _with_resident(fields, k, name=old[:i] + str(new) + old[i + 1:])
        changed = {f"resident{k}.name"}
    elif kind == "removed":
        if n < 2:
            raise ValueError("a household of one has no line to remove")
        fields = dataclasses.replace(fields, residents=fields.residents[:-1])
        changed = {f"resident{n - 1}.name", f"resident{n - 1}.birth"}
    elif kind == "pasted":
        k = int(rng.integers(n))
        other = default_fields(variant=_other_variant(fields)).residents[0]
        residents = list(fields.residents)
        residents[k] = other
        fields = dataclasses.replace(fields, residents=tuple(residents))
        changed = {f"resident{k}.name", f"resident{k}.birth"}
    elif kind == "tape":
        return _tape(h, rng)
    else:
        raise ValueError(f"unknown alteration {kind!r}; one of {ALTERATIONS}")
    page = render_sample_front(fields).image
    return lookalike_ground(page, rng), changed


def _other_variant(fields: SampleFields) -> int:
    """A household whose first resident differs from every one of ``fields``."""
    names = {r.name for r in fields.residents}
    return next(v for v in range(4) if default_fields(variant=v).residents[0].name not in names)


def _tape(h: Household, rng: np.random.Generator) -> tuple[np.ndarray, set[str]]:
    """Correction tape over one digit of a birth date on the genuine sheet, the new digit written over it in pen."""
    k = int(rng.integers(len(h.fields.residents)))
    birth = h.fields.residents[k].birth
    places = [i for i, ch in enumerate(birth) if ch.isdigit()]
    i = int(rng.choice(places))
    new_birth = birth[:i] + str((int(birth[i]) + int(rng.integers(1, 9))) % 10) + birth[i + 1:]
    edited = render_sample_front(_with_resident(h.fields, k, birth=new_birth)).image
    diff = np.abs(edited.astype(np.int16) - h.front.image.astype(np.int16)).max(axis=2) > 40
    ys, xs = np.nonzero(diff)
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    pad = 6
    page = h.paper.copy()
    tape_colour = np.array([250, 249, 244], np.float32)
    page[y0 - pad:y1 + pad, x0 - pad:x1 + pad] = tape_colour  # the tape hides the digit and the pattern under it
    # the new digit in pen: the edited print's strokes there, moved and turned a little, in blue-black ink
    strokes = 255 - cv2.cvtColor(edited[y0 - pad:y1 + pad, x0 - pad:x1 + pad], cv2.COLOR_RGB2GRAY)
    hh, ww = strokes.shape
    turn = cv2.getRotationMatrix2D((ww / 2, hh / 2), float(rng.uniform(-8, 8)), float(rng.uniform(0.9, 1.1)))
    turn[:, 2] += rng.uniform(-2, 2, size=2)
    strokes = cv2.warpAffine(strokes, turn, (ww, hh))
    strokes = cv2.dilate(strokes, np.ones((2, 2), np.uint8))
    cover = (strokes.astype(np.float32) / 255.0)[..., None]
    ink = np.array([30, 35, 70], np.float32)
    region = page[y0 - pad:y1 + pad, x0 - pad:x1 + pad].astype(np.float32)
    page[y0 - pad:y1 + pad, x0 - pad:x1 + pad] = np.clip(region * (1 - cover) + ink * cover, 0, 255).astype(np.uint8)
    return page, {f"resident{k}.birth"}
