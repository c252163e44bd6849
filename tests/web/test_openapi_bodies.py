"""The API's description says which bodies it takes, and the endpoint takes exactly those: every declared media
type with a real scan verifies, a body under the declared minimum is refused as the document says."""

from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate as validate_spec

from tests.web.helpers import multipart
from web.api import OPENAPI_PATH

URL = "/api/v1/verifications"


@pytest.fixture(scope="module")
def body_spec() -> dict:
    spec = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    validate_spec(spec)
    return spec["paths"][URL]["post"]


def test_every_body_has_a_media_type_and_a_minimum_size(body_spec):
    content = body_spec["requestBody"]["content"]
    assert "*/*" not in content and content, "the document must name the media types it accepts"
    for media_type, media in content.items():
        schema = media["schema"]
        if media_type == "multipart/form-data":
            assert schema["required"] == ["scan"] and schema["properties"]["scan"]["minLength"] == 1
        else:
            assert schema["type"] == "string" and schema["contentMediaType"] == media_type
            assert schema["minLength"] == 1, media_type


@pytest.mark.slow
def test_every_declared_media_type_is_accepted(client, api_key, sample, body_spec):
    """A real scan in each declared media type verifies (the positive case of each)."""
    scans = {"image/png": sample.back_png, "image/jpeg": sample.back_jpeg, "application/pdf": sample.pdf}
    auth = {"Authorization": f"Bearer {api_key}"}
    for media_type in body_spec["requestBody"]["content"]:
        if media_type == "multipart/form-data":
            response = client.post(URL + "?image=none", headers=auth,
                                   **multipart({"scan": (sample.back_jpeg, "back.jpg")}))
        else:
            data = scans.get(media_type, sample.back_png)  # TIFF, BMP, WebP: converted below when declared
            if media_type in ("image/tiff", "image/bmp", "image/webp"):
                data = _convert(sample.back_png, media_type)
            response = client.post(URL + "?image=none", data=data, headers={**auth, "Content-Type": media_type})
        assert response.status_code == 200, (media_type, response.get_json())
        assert response.get_json()["outcome"] == "verified"


def test_a_body_under_the_minimum_is_refused_as_documented(client, api_key, body_spec):
    auth = {"Authorization": f"Bearer {api_key}"}
    for media_type in body_spec["requestBody"]["content"]:
        if media_type == "multipart/form-data":
            response = client.post(URL, headers=auth, **multipart({"scan": (b"", "empty.png")}))
        else:
            response = client.post(URL, data=b"", headers={**auth, "Content-Type": media_type})
        assert response.status_code == 400 and response.get_json()["code"] == "empty_upload", media_type
        assert "400" in body_spec["responses"]


def _convert(png: bytes, media_type: str) -> bytes:
    import cv2
    import numpy as np

    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    ext = {"image/tiff": ".tiff", "image/bmp": ".bmp", "image/webp": ".webp"}[media_type]
    params = [cv2.IMWRITE_WEBP_QUALITY, 101] if ext == ".webp" else []
    ok, encoded = cv2.imencode(ext, image, params)
    assert ok
    return encoded.tobytes()
