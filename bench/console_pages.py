"""Screenshots and timings of every console page on an existing store (e.g. a `hub demo` one).

    python bench/console_pages.py --config hub-demo/hub.yaml --out bench/results/console

Copies the config with a throw-away console user and session secret, runs `hub serve` on a
loopback port against the same store (read-only use: no action is pressed), logs in with
headless Chromium (/usr/bin/chromium), saves a PNG of the first screen of each page and its
whole text (NAME.txt, to diff one store's pages with another's) and prints the
browser's time per page load (median of 3 after one warm-up). Timings move with the
machine's load; tests/api/test_console.py counts each page's SQL statements instead.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

PAGES = ("", "queues", "decisions", "approvals", "alerts", "models", "experiments", "audit", "config")
PASSWORD = "console-bench-password"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=Path("reports/console"))
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    from hub.config import sqlite_beside
    from hub.console.passwords import hash_password

    cfg = yaml.safe_load(args.config.read_text())
    if "store_url" in cfg:  # the copy lives elsewhere: a relative SQLite path still means beside the original
        cfg["store_url"] = sqlite_beside(cfg["store_url"], args.config.resolve().parent)
    api = cfg.setdefault("api", {})
    api["users"] = [{"username": "bench", "password_hash": hash_password(PASSWORD, iterations=1000)}]
    api["session_secret"] = "b" * 40
    api["embedded"] = True
    tmp = Path(tempfile.mkdtemp(prefix="console-bench-"))
    (tmp / "hub.yaml").write_text(yaml.safe_dump(cfg))
    port = _port()
    base = f"http://127.0.0.1:{port}"
    hub = Path(sys.executable).with_name("hub")
    log = (tmp / "serve.log").open("w")
    proc = subprocess.Popen(
        [str(hub), "serve", "-c", str(tmp / "hub.yaml"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ},
    )
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/console/login", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise SystemExit(f"hub serve did not start; see {tmp / 'serve.log'}")
        from playwright.sync_api import sync_playwright

        args.out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, args=["--headless", "--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/console/login")
            page.fill("input[name=username]", "bench")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/console/")
            paths = [f"/console/{p}" for p in PAGES]
            page.goto(f"{base}/console/decisions")
            href = page.locator("tr[data-decision] td a").first.get_attribute("href")
            if href:
                paths.append(href)
            print(f"{'page':28} {'median ms':>10}")
            for path in paths:
                times = []
                for i in range(4):
                    t0 = time.perf_counter()
                    page.goto(f"{base}{path}")
                    if i:
                        times.append((time.perf_counter() - t0) * 1000)
                name = path.strip("/").replace("/", "_") or "console"
                page.screenshot(path=str(args.out / f"{name}.png"))  # the first screen: what a person sees
                # and the whole page's text: two stores' walks (SQLite, PostgreSQL) are compared with diff
                (args.out / f"{name}.txt").write_text(page.inner_text("body"), encoding="utf-8")
                print(f"{path:28} {statistics.median(times):10.0f}")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
