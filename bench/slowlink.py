"""The result page on a slow link: its weight on the wire and the time to a visible verdict and to the image.

    python bench/slowlink.py [--runs 3] [--root DIR ...]

A real gunicorn serves the site; Debian's Chromium, driven by Playwright, opens the upload page, chooses a scan and
sends it, with the link throttled as Chromium's "Slow 4G" profile: 1.6 Mbit/s down, 562.5 ms latency (Chromium's
150 ms round trip times its 3.75 factor). The upload itself is not throttled: its time is the scan's, not the
page's, and would hide what the page changes. Measured from the click:

- verdict: the result's headline is visible; facts: the list of the certificate's facts is;
- image: the restored front has been decoded and shown;
- the answer's bytes on the wire (after compression) and its size once decoded.

Each ``--root`` is a checkout of the site (default: this one), so that two versions can be compared in the same
run; the runs alternate between them, with JavaScript on and off. Medians are printed as a table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from load import Site  # noqa: E402  (the same gunicorn launcher as the load benchmark)
from playwright.sync_api import Error  # noqa: E402

from tests.support import chromium  # noqa: E402

SLOW_4G = {"offline": False, "latency": 150 * 3.75, "downloadThroughput": 1.6e6 / 8 * 0.9,
           "uploadThroughput": -1}


def one_run(browser, site: Site, scan: Path, javascript: bool) -> dict[str, float]:
    """Send ``scan`` through the upload form once; the times (s) from the click and the answer's sizes."""
    context = browser.new_context(java_script_enabled=javascript, viewport={"width": 1366, "height": 900})
    page = context.new_page()
    sizes: dict[str, int] = {}

    def finished(request) -> None:
        if request.method == "POST" and request.url.endswith("/verify"):
            sizes["wire"] = request.sizes()["responseBodySize"]
            try:
                sizes["body"] = len(request.response().body())
            except Error:  # a page navigated away from keeps no body; another run measures it
                pass

    page.on("requestfinished", finished)
    page.goto(f"http://127.0.0.1:{site.port}/?lang=en")
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", SLOW_4G)
    page.set_input_files("#scan", str(scan))
    start = time.perf_counter()
    page.click("#submit", no_wait_after=True)
    page.wait_for_selector("#result-title", state="visible", timeout=120_000)
    verdict = time.perf_counter() - start
    page.wait_for_selector("#facts", state="visible", timeout=120_000)
    facts = time.perf_counter() - start
    page.wait_for_function("() => { const i = document.getElementById('restored-front');"
                           " return i && i.complete && i.naturalWidth > 0; }", timeout=120_000, polling=20) \
        if javascript else page.wait_for_load_state("load", timeout=120_000)
    image = time.perf_counter() - start
    page.wait_for_load_state("load")
    deadline = time.monotonic() + 30
    while "wire" not in sizes and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    context.close()
    return {"verdict": verdict, "facts": facts, "image": image, "wire": sizes.get("wire", 0),
            "body": sizes.get("body", 0)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs per version and JavaScript setting")
    parser.add_argument("--root", type=Path, action="append", help="a checkout of the site (repeatable)")
    args = parser.parse_args()
    roots = args.root or [ROOT]

    import verify
    from verify.keys import init_ring

    tmp = Path(tempfile.mkdtemp(prefix="certverify-slowlink-"))
    keys = tmp / "keys"
    ring, _ = init_ring(keys, "bench")
    cert = verify.issue(ring, serial="BENCH-0001", issuer="990001")
    scan = tmp / "back.jpg"
    scan.write_bytes(verify.encode_image(cert.back, fmt="jpeg", quality=90))
    print(f"scan: the sample back as a 300 dpi JPEG, {scan.stat().st_size / 1e6:.1f} MB; link: 1.6 Mbit/s down, "
          f"{SLOW_4G['latency']:.0f} ms latency, upload unthrottled; {args.runs} runs each")

    results: dict[tuple[int, bool], list[dict[str, float]]] = {}
    sites = []
    try:
        for i, root in enumerate(roots):
            (tmp / f"site{i}").mkdir()
            sites.append(Site(tmp / f"site{i}", keys, 2, 30.0, root=root.resolve()))
        with chromium() as browser:
            for site in sites:  # every worker's first verification is slower
                for _ in range(2):
                    one_run(browser, site, scan, True)
            for _ in range(args.runs):
                for i, site in enumerate(sites):
                    for javascript in (True, False):
                        results.setdefault((i, javascript), []).append(one_run(browser, site, scan, javascript))
    finally:
        for site in sites:
            site.stop()

    print()
    print("| site | JavaScript | answer on the wire KB | answer decoded KB | verdict visible s | facts visible s "
          "| image shown s |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for (i, javascript), runs in results.items():
        med = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        body = max(r["body"] for (j, _), rs in results.items() if j == i for r in rs)  # measured with JS on
        print(f"| {roots[i]} | {'on' if javascript else 'off'} | {med['wire'] / 1024:.0f} | {body / 1024:.0f} | "
              f"{med['verdict']:.2f} | {med['facts']:.2f} | {med['image']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
