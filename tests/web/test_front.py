"""The paper front through the API: sent as the field ``front`` or as the other page of a two-page scan, compared
with the restored front (``front_comparison``), noted in the back's log entry and counted; in a stack, a front page
beside a back is paired with it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.front import Household, alter, household
from tests.support import create_key, csrf_token
from tests.web.helpers import METRICS_TOKEN, check_schema, log_entries, metric, metric_samples, multipart, stack_pdf

URL = "/api/v1/verifications"




@pytest.fixture(scope="module")
def fronts(sample) -> dict[str, object]:
    """A v3 certificate of the sample's ring: its back, its genuine paper front and one with a character of a
    resident's name replaced and reprinted on a look-alike pattern (tests/front.py), as PNG files."""
    import verify

    ring = verify.KeyRing.load(sample.keys_dir)
    h: Household = household(ring, 1)
    altered, changed = alter(h, "name", np.random.default_rng(1))
    return {"household": h, "back": verify.encode_image(h.cert.back, "png"),
            "genuine": verify.encode_image(h.paper, "png"), "altered": verify.encode_image(altered, "png"),
            "changed": changed}




def post(client, key: str, query: str = "?image=jpeg", **files: tuple[bytes, str]):
    return client.post(URL + query, headers={"Authorization": f"Bearer {key}"}, **multipart(files))


def test_a_genuine_front_sent_beside_the_back_matches(app_factory, fronts, spec):
    app = app_factory(METRICS_TOKEN=METRICS_TOKEN)
    client, api_key = app.test_client(), create_key(app.test_cli_runner(), "bank-a")
    before = counted(client)
    response = post(client, api_key, scan=(fronts["back"], "back.png"), front=(fronts["genuine"], "front.png"))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    check_schema(spec, "Verification", body)
    comparison = body["front_comparison"]
    assert comparison["outcome"] == "matches", comparison
    assert {"address", "resident0.name", "resident0.birth"} <= {r["name"] for r in comparison["regions"]}
    assert all(r["outcome"] == "matches" for r in comparison["regions"])
    assert comparison["overlay_image"]["media_type"] == "image/jpeg" and comparison["overlay_image"]["data"]
    assert "front_page" not in body  # sent as its own file
    # the log notes that a front was compared and how, and its chain still verifies; the metric counts it
    entries = log_entries(app)
    assert [(e["outcome"], e["front_outcome"]) for e in entries] == [("verified", "matches")]
    checked = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert checked.exit_code == 0, checked.output
    exported = app.test_cli_runner().invoke(args=["audit", "export", "--format", "jsonl"])
    assert json.loads(exported.output.splitlines()[0])["front_outcome"] == "matches"
    assert counted(client) == before + 1


def counted(client) -> float:
    samples = metric_samples(client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text)
    return metric(samples, "certverify_front_comparisons_total", channel="api", outcome="matches")


def test_an_altered_front_differs_and_names_the_field(app, client, api_key, fronts, spec):
    response = post(client, api_key, "?image=none", scan=(fronts["back"], "back.png"),
                    front=(fronts["altered"], "front.png"))
    body = response.get_json()
    assert response.status_code == 200, body
    check_schema(spec, "Verification", body)
    comparison = body["front_comparison"]
    assert comparison["outcome"] == "differs"
    assert {r["name"] for r in comparison["regions"] if r["outcome"] == "differs"} == fronts["changed"]
    assert "overlay_image" not in comparison  # image=none
    assert [e["front_outcome"] for e in log_entries(app)] == ["differs"]


def test_a_refused_back_gets_no_comparison(app, client, api_key, sample, fronts):
    response = post(client, api_key, scan=(sample.forged_png, "back.png"), front=(fronts["genuine"], "front.png"))
    assert response.status_code == 422
    assert "front_comparison" not in response.get_json()
    assert [(e["outcome"], e["front_outcome"]) for e in log_entries(app)] == [("altered", None)]


def test_a_front_that_cannot_be_read_is_unreadable_and_the_back_stands(app, client, api_key, fronts, spec):
    response = post(client, api_key, "?image=none", scan=(fronts["back"], "back.png"),
                    front=(b"%PDF-1.7 not a pdf at all", "front.pdf"))
    body = response.get_json()
    assert response.status_code == 200 and body["outcome"] == "verified", body
    check_schema(spec, "Verification", body)
    comparison = body["front_comparison"]
    assert comparison["outcome"] == "unreadable" and comparison["error"]["code"] == comparison["reason"]
    assert comparison["reason"] in {"corrupt_file", "unsupported_format"}


def test_an_empty_front_field_is_no_front(app, client, api_key, fronts):
    """A form whose second file was not chosen sends an empty part: the answer is the back's alone."""
    body = post(client, api_key, "?image=none", scan=(fronts["back"], "back.png"), front=(b"", "")).get_json()
    assert body["outcome"] == "verified" and "front_comparison" not in body
    assert [e["front_outcome"] for e in log_entries(app)] == [None]


def test_a_two_page_scan_compares_the_front_page_in_either_order(app, client, api_key, fronts, spec):
    auth = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/pdf"}
    for pages, front_page in (((fronts["genuine"], fronts["back"]), 1), ((fronts["back"], fronts["genuine"]), 2)):
        body = client.post(URL + "?image=none", data=stack_pdf(*pages), headers=auth).get_json()
        check_schema(spec, "Verification", body)
        assert body["front_comparison"]["outcome"] == "matches", body["front_comparison"]
        assert body["front_page"] == front_page
    assert [e["front_outcome"] for e in log_entries(app)] == ["matches", "matches"]


def test_a_back_sent_as_the_front_is_named_and_two_backs_are_not_compared(app, client, api_key, sample, fronts,
                                                                          spec):
    """A second back in the front field is answered as such ("scan the other side"); a two-page upload of two
    backs is two certificates, not a sheet's two sides: the first back is answered alone, as without a front."""
    body = post(client, api_key, "?image=none", scan=(fronts["back"], "back.png"),
                front=(sample.back_png, "front.png")).get_json()
    check_schema(spec, "Verification", body)
    assert (body["outcome"], body["front_comparison"]["outcome"], body["front_comparison"]["reason"]) == (
        "verified", "unreadable", "a_back")
    auth = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/pdf"}
    body = client.post(URL + "?image=none", data=stack_pdf(fronts["back"], sample.back_png), headers=auth).get_json()
    assert body["outcome"] == "verified" and "front_comparison" not in body and "front_page" not in body
    assert [e["front_outcome"] for e in log_entries(app)] == ["unreadable", None]


def test_a_front_field_with_pages_all_is_refused(client, api_key, fronts):
    response = post(client, api_key, "?pages=all", scan=(fronts["back"], "back.png"),
                    front=(fronts["genuine"], "front.png"))
    assert response.status_code == 400 and response.get_json()["code"] == "bad_request"


def test_a_stack_pairs_each_front_page_with_the_back_beside_it(app, client, api_key, sample, fronts, blank_png,
                                                               spec):
    """Front then back (face up), then a back alone, a blank page, then back then front (face down): each front
    is compared with its own back, and names it; the back alone and the blank page are paired with nothing."""
    pdf = stack_pdf(fronts["altered"], fronts["back"], sample.v1_png, blank_png, fronts["back"], fronts["genuine"])
    response = client.post(URL + "?image=none&pages=all", data=pdf,
                           headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/pdf"})
    body = response.get_json()
    assert response.status_code == 200, body
    check_schema(spec, "Stack", body)
    results = body["results"]
    assert [(r["page"], r["outcome"], r.get("paired_with"), r.get("front_page"),
             r.get("front_comparison", {}).get("outcome")) for r in results] == [
        (1, "skipped", 2, None, None), (2, "verified", None, 1, "differs"), (3, "verified", None, None, None),
        (4, "skipped", None, None, None), (5, "verified", None, 6, "matches"), (6, "skipped", 5, None, None)]
    assert results[0]["skipped"] == "no_back" and results[5]["skipped"] == "no_back"
    differing = {r["name"] for r in results[1]["front_comparison"]["regions"] if r["outcome"] == "differs"}
    assert differing == fronts["changed"]
    # one entry per page, in page order, the backs noting their front's outcome
    assert [(e["page"], e["front_outcome"]) for e in log_entries(app)] == [
        (1, None), (2, "differs"), (3, None), (4, None), (5, "matches"), (6, None)]
    checked = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert checked.exit_code == 0, checked.output


def send_form(client, back: bytes, front: bytes | None, lang: str = "en"):
    """The upload form with its two files, as a browser posts it (the front left empty when not chosen)."""
    token = csrf_token(client)
    return client.post(f"/verify?lang={lang}", **multipart({"csrf_token": token, "scan": (back, "back.png"),
                                                            "front": (front or b"", "front.png" if front else "")}))


def test_the_form_takes_the_front_and_the_page_names_the_differing_field(app, client, fronts):
    response = send_form(client, fronts["back"], fronts["altered"])
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="front-comparison"' in html and "front-differs" in html
    (changed,) = fronts["changed"]  # one resident's name: "resident N: name differs from what was issued"
    number = int(changed.removeprefix("resident").split(".")[0]) + 1
    assert f"resident {number}: name differs from what was issued" in html
    listed = html.split('id="front-differences"', 1)[1].split("</ul>", 1)[0]
    assert fronts["household"].fields.residents[number - 1].name in listed  # the signed name beside the field
    assert 'id="front-paper"' in html and 'id="front-overlay"' in html and 'type="range"' in html
    assert [e["front_outcome"] for e in log_entries(app)] == ["differs"]


def test_the_page_names_a_field_a_stamp_covers_and_says_why_once(app, client, fronts, sample):
    """A blue receiving stamp pressed over a resident's name on the genuine paper front: the page says the front
    could not be compared, names the field and why beside it (the stamp), once, and accuses nothing."""
    import verify
    from tests.field import stamp

    h = fronts["household"]
    restored = verify.restore(fronts["back"], verify.KeyRing.load(sample.keys_dir))
    box = restored.regions["resident0.name"]
    scale = h.paper.shape[1] / restored.image.shape[1]
    centre = ((box[0] + box[2]) / 2 * scale, (box[1] + box[3]) / 2 * scale)
    stamped = stamp(h.paper, np.random.default_rng(5), colour="blue", centre=centre)
    html = send_form(client, fronts["back"], verify.encode_image(stamped, "png")).get_data(as_text=True)
    assert "front-unreadable" in html and "front-differs" not in html
    listed = html.split('id="front-unreadable"', 1)[1].split("</ul>", 1)[0]
    assert "resident 1: name" in listed and "a stamp or a note laid over it" in listed
    assert html.count("a stamp or a note laid over it") == listed.count("a stamp or a note laid over it")
    assert [e["front_outcome"] for e in log_entries(app)] == ["unreadable"]


def test_the_form_without_a_front_shows_no_comparison_and_a_duplex_pdf_compares(app, client, fronts):
    html = send_form(client, fronts["back"], None).get_data(as_text=True)
    assert 'id="restored-front"' in html and 'id="front-comparison"' not in html
    assert "send a scan of the front too, or compare them yourself" in html  # what the check left to the reader
    html = send_form(client, stack_pdf(fronts["genuine"], fronts["back"]), None, lang="ja").get_data(as_text=True)
    assert 'id="front-comparison"' in html and "front-matches" in html
    assert "紙の表面は、交付された内容のとおりです。" in html
    # what the check proves now says the paper front was compared, and how far a match goes
    assert "照合したすべての欄で発行時の内容と一致" in html and "ご自身で見比べてください" not in html
    # the single picture, then the PDF's front page and its back, each its own entry
    assert [(e["page"], e["front_outcome"]) for e in log_entries(app)] == [(None, None), (1, None), (2, "matches")]
