"""The sheets of one certificate (format v4 on): which were seen in an upload, which are missing, and the sheets
that claim one serial but disagree.

A household too large for one sheet is issued on several, each with its own back. Every back's signed code names
its serial, its sheet number and the number of sheets (``docs/format.md``, section 5), so the sheets of one
certificate are grouped by serial. Backs of formats v1 to v3 say nothing of sheets: each groups alone by serial,
with nothing known missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import SheetsDisagree
from .model import CertificateFacts

# The facts every sheet of one certificate shares (besides the serial): a sheet that claims the serial but differs
# in one of them belongs to another issue.
SHARED = ("issuer", "issued_on", "document_type", "sheets")


@dataclass
class Certificate:
    """The sheets of one certificate an upload holds, by serial."""

    serial: str
    facts: CertificateFacts  # of the first sheet seen
    pages: dict[int, list[int]] = field(default_factory=dict)  # sheet number (1 for v1-v3) -> pages of the upload

    @property
    def sheets(self) -> int | None:
        """The number of sheets the certificate has, where its codes say (format v4 on)."""
        return self.facts.sheets

    @property
    def seen(self) -> list[int]:
        return sorted(self.pages)

    @property
    def missing(self) -> list[int]:
        """The sheets the codes announce and the upload lacks."""
        return [n for n in range(1, (self.sheets or 0) + 1) if n not in self.pages]

    def to_dict(self) -> dict[str, Any]:
        return {"serial": self.serial, "issuer": self.facts.issuer, "issued_on": self.facts.issued_on.isoformat(),
                "document_type": self.facts.document_type, "sheets": self.sheets, "seen": self.seen,
                "missing": self.missing, "complete": self.sheets is not None and not self.missing,
                "pages": [{"sheet": n if self.sheets else None, "page": page}
                          for n in self.seen for page in self.pages[n]]}


class Sheets:
    """Collects an upload's verified sheets in page order, refusing a sheet whose serial is already claimed by a
    sheet it disagrees with (the first sheet seen of a serial sets what its others must share)."""

    def __init__(self) -> None:
        self._by_serial: dict[str, Certificate] = {}

    def admit(self, page: int, facts: CertificateFacts) -> None:
        """Record ``facts`` as seen on ``page``; ``SheetsDisagree`` when they contradict an earlier sheet's."""
        known = self._by_serial.get(facts.serial)
        if known is None:
            known = self._by_serial[facts.serial] = Certificate(facts.serial, facts)
        differs = [name for name in SHARED if getattr(known.facts, name) != getattr(facts, name)]
        if differs:
            first = min(page for pages in known.pages.values() for page in pages)  # where the serial was first seen
            raise SheetsDisagree(f"page {page} names serial {facts.serial}, as page {first} does, but differs in "
                                 f"{', '.join(differs)}", serial=facts.serial, issuer=facts.issuer,
                                 key_id=facts.key_id, signature="valid", sheet=facts.sheet, sheets=facts.sheets,
                                 disagrees=differs, with_page=first)
        known.pages.setdefault(facts.sheet or 1, []).append(page)

    @property
    def certificates(self) -> list[Certificate]:
        """The certificates seen, in the order of their first page."""
        return list(self._by_serial.values())


def group(pages: Iterable[tuple[int, CertificateFacts]]) -> list[Certificate]:
    """The certificates of an upload's verified pages ((page, facts) in page order), sheets that disagree left
    out as ``verify.restore_pages`` refuses them."""
    sheets = Sheets()
    for page, facts in pages:
        try:
            sheets.admit(page, facts)
        except SheetsDisagree:
            continue
    return sheets.certificates


__all__ = ["SHARED", "Certificate", "Sheets", "group"]
