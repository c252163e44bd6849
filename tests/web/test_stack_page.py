"""A scanned stack through the upload page: one row per back, each opening its result; the pages without a back
named; one sheet's front and back still answered with the result page itself."""

from __future__ import annotations

import re

from tests.web.helpers import SERIAL, SERIAL_V1, log_entries, stack_pdf, upload


def rows(html: str) -> list[tuple[str, str, str]]:
    """(page, result, serial) of each row of the stack's table."""
    body = html.split('id="stack"', 1)[1].split("</tbody>", 1)[0].split("<tbody>", 1)[1]
    out = []
    for row in re.findall(r"<tr id=\"page-\d+\".*?</tr>", body, re.S):
        page = re.search(r'<th scope="row">(\d+)</th>', row)
        outcome = re.search(r'<td class="stack-outcome">([^<]+)</td>', row)
        serial = re.search(r'<td class="stack-serial"><span class="mono nowrap">([^<]+)</span>', row)
        assert page and outcome and serial, row
        out.append((page[1], outcome[1], serial[1]))
    return out


def test_one_row_per_back_each_opening_its_result(app, client, sample, blank_png):
    response = upload(client, stack_pdf(sample.back_png, blank_png, sample.v1_png, sample.forged_png),
                      filename="stack.pdf", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert rows(html) == [("1", "Checks out", SERIAL), ("3", "Checks out", SERIAL_V1),
                          ("4", "Appears altered", SERIAL)]
    assert "2 of 3 backs check out" in html
    # each verified row opens its result: the facts and the restored front
    details = html.split('id="page-1"', 1)[1].split("</tr>", 1)[0]
    assert "<details>" in details and "Result of page 1" in details and 'src="data:image/jpeg;base64,' in details
    assert re.search(r"<li>Page 2: blank</li>", html)
    refused = html.split('id="page-4"', 1)[1].split("</tr>", 1)[0]
    assert "/errors/altered" in refused and "data:image" not in refused  # no front shown for an altered back
    assert len(log_entries(app)) == 4 and len({e["request_id"] for e in log_entries(app)}) == 1


def test_the_front_is_named_among_the_pages_without_a_back(client, sample):
    pdf = stack_pdf(sample.back_png, sample.v1_png)
    import io

    import pypdfium2

    doc = pypdfium2.PdfDocument(sample.pdf)  # the kiosk's sheet: front, then back
    doc.import_pages(pypdfium2.PdfDocument(pdf))
    out = io.BytesIO()
    doc.save(out)
    html = upload(client, out.getvalue(), filename="stack.pdf", headers={"Accept-Language": "en"}).get_data(
        as_text=True)
    assert [r[0] for r in rows(html)] == ["2", "3", "4"]
    # the kiosk's front is paired with the back after it: named as such, and its comparison shown on that back's row
    assert ("<li>Page 1: the front or another document (compared as the paper front of the back on page 2)</li>"
            in html)
    assert 'id="front-of-page-2"' in html and "The paper front on page 1 says what was issued." in html


def test_one_sheet_front_and_back_is_the_result_page(client, sample):
    """The kiosk's certificate.pdf: one back among its pages, answered with the result page as before."""
    html = upload(client, sample.pdf, filename="certificate.pdf", headers={"Accept-Language": "en"}).get_data(
        as_text=True)
    assert 'id="stack"' not in html and "The back checks out" in html and SERIAL in html
