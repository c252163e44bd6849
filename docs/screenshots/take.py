"""Screenshots of the upload page, the result page, a wrong upload's page and an altered back's page, desktop (1366
x 900) and phone (390 x 844), in Japanese and English, from a running site (``make run``, which issues
instance/sample/back.png under the development key in keys/):

    .venv/bin/python docs/screenshots/take.py [--url http://127.0.0.1:8000] [--console-user NAME]

writes <page>-<lang>-<desktop|phone>.png (the first screen) beside this script. With ``--console-user`` (an account
made with `flask --app app users create`, its password in $CONSOLE_PASSWORD) it also writes the console's log page
and an entry, desktop, both languages: console-<page>-<lang>.png (the first screen; the whole entry).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support import chromium  # noqa: E402

OUT = Path(__file__).resolve().parent
SIZES = {"desktop": (1366, 900), "phone": (390, 844)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--console-user", help="a console account; its password in $CONSOLE_PASSWORD")
    args = parser.parse_args()

    import verify
    from tests.forgery import exact_forgery
    from verify.paper import print_on_ground

    ring = verify.KeyRing.load(ROOT / "keys")
    cert = verify.issue(ring)
    front = OUT / ".front.jpg"  # a wrong upload: the certificate's front
    front.write_bytes(verify.encode_image(print_on_ground(cert.front), fmt="jpeg", quality=90))
    forged = OUT / ".forged.png"  # the back rebuilt for an altered front, every block in its exact place
    forged.write_bytes(verify.encode_image(exact_forgery(cert, ring), fmt="png"))
    try:
        with chromium() as browser:
            for lang in ("ja", "en"):
                for name, (width, height) in SIZES.items():
                    page = browser.new_page(viewport={"width": width, "height": height})
                    page.goto(f"{args.url}/?lang={lang}")
                    page.screenshot(path=str(OUT / f"upload-{lang}-{name}.png"))
                    for what, upload, ready in (("result", ROOT / "instance/sample/back.png", "#restored-front"),
                                                ("wrong-upload", front, "#error-code"),
                                                ("altered", forged, "#error-code")):
                        _send(page, f"{args.url}/?lang={lang}", upload, ready)
                        page.evaluate("window.scrollTo(0, 0)")
                        path = OUT / f"{what}-{lang}-{name}.png"
                        page.screenshot(path=str(path))
                        print(path.relative_to(ROOT))
                    page.close()
            if args.console_user:
                _console(browser, args.url, args.console_user, os.environ.get("CONSOLE_PASSWORD", ""))
    finally:
        front.unlink(missing_ok=True)
        forged.unlink(missing_ok=True)


def _console(browser, url: str, user: str, password: str) -> None:
    """The console's log page (overview, flags, chart, entries) and its newest entry, in both languages."""
    width, height = SIZES["desktop"]
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(f"{url}/audit/sign-in")
    page.fill("#name", user)
    page.fill("#password", password)
    page.click("#sign-in")
    page.wait_for_selector("#overview")
    for lang in ("ja", "en"):
        page.goto(f"{url}/audit/?lang={lang}")
        page.screenshot(path=str(OUT / f"console-log-{lang}.png"))
        page.locator("#entries tbody tr a").first.click()
        page.wait_for_selector("#entry-facts")
        page.screenshot(path=str(OUT / f"console-entry-{lang}.png"), full_page=True)
        print(f"docs/screenshots/console-log-{lang}.png, console-entry-{lang}.png")
    page.close()


def _send(page, url: str, upload: Path, ready: str) -> None:
    """Upload the file and wait for the answer; when the site's rate limit answers, wait as it says and again."""
    for _ in range(5):
        page.goto(url)
        page.set_input_files("#scan", str(upload))
        page.click("#submit")
        page.wait_for_selector(f"{ready}, #error-code")
        if page.locator("#error-code").count() and page.locator("#error-code").inner_text() == "rate_limited":
            page.wait_for_timeout(61_000)
            continue
        page.locator(ready).wait_for()
        return
    raise SystemExit("the site kept answering rate_limited")


if __name__ == "__main__":
    main()
