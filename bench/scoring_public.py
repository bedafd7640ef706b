"""`hub score evaluate` on public conversion tables: the hub's scorer vs default HGB and logistic.

(a) CoIL 2000 "Caravan" insurance purchases (5,822 customers, 85 socio-demographic and
    product-ownership columns, label ``Purchase`` Yes/No, 348 buyers = 6.0 %). Taken from the file
    ``ISLP/data/Caravan.csv`` inside the wheel of the PyPI package ``ISLP`` 0.6.0 (the data package of
    "An Introduction to Statistical Learning with Applications in Python"; BSD-style licence in its
    METADATA; the data are the CoIL Challenge 2000 set of Sentient Machine Research, via the R
    package ISLR). The bench downloads the wheel with ``pip download --no-deps ISLP==0.6.0`` into a
    temporary folder and extracts the CSV with zipfile (ISLP's own dependencies, torch among
    them, are heavy and not needed). Nothing is copied into the project.
(b) CDNOW (``/work/shared/data/cdnow/cdnow_customers_summary.csv``, 2,357 customers, Lifetimes
    0.11.3, MIT): label ``repeat`` = bought again after the first purchase (``frequency > 0``).
    ``frequency`` is the label's own count and ``recency`` is 0 exactly when there was no repeat,
    so both give the label away; the run keeps them in the table to show the leakage guard
    removing them, and what is left (``T``, weeks since the first purchase) is a weak honest
    feature. ``ID`` is dropped.

Each run is ``hub score evaluate --table FILE --label COL --seed S --json`` (70/30 stratified split).

    python bench/scoring_public.py [--seeds 0,1,2] [--out bench/results/scoring_public.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HUB = Path(sys.executable).with_name("hub")
CDNOW = Path("/work/shared/data/cdnow/cdnow_customers_summary.csv")
WHEEL = "ISLP==0.6.0"


def caravan(tmp: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", WHEEL, "-d", str(tmp)], check=True)
    wheel = next(tmp.glob("*.whl"))
    out = tmp / "Caravan.csv"
    with zipfile.ZipFile(wheel) as z:
        out.write_bytes(z.read("ISLP/data/Caravan.csv"))
    return out


def cdnow(tmp: Path, source: Path) -> Path:
    out = tmp / "cdnow_repeat.csv"
    with source.open() as f, out.open("w", newline="") as g:
        rows = csv.DictReader(f)
        w = csv.writer(g)
        w.writerow(["ID", "frequency", "recency", "T", "repeat"])
        for r in rows:
            w.writerow([r["ID"], r["frequency"], r["recency"], r["T"], "yes" if float(r["frequency"]) > 0 else "no"])
    return out


def evaluate(table: Path, label: str, seed: int, extra: list[str]) -> dict:
    cmd = [
        str(HUB),
        "score",
        "evaluate",
        "--table",
        str(table),
        "--label",
        label,
        "--seed",
        str(seed),
        "--json",
        *extra,
    ]
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr}")
    return {**json.loads(done.stdout), "seed": seed, "seconds": time.perf_counter() - t}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--cdnow", type=Path, default=CDNOW)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scoring_public.json")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tables = {"caravan": (caravan(Path(tmp)), "Purchase", [])}
        if args.cdnow.exists():
            tables["cdnow_repeat"] = (cdnow(Path(tmp), args.cdnow), "repeat", ["--drop", "ID"])
        for name, (path, label, extra) in tables.items():
            results[name] = [evaluate(path, label, s, extra) for s in seeds]
            print(f"{name}: done in {sum(r['seconds'] for r in results[name]):.0f} s", file=sys.stderr, flush=True)
    header = f"{'data':13} {'seed':>4} {'scorer':9} {'AUC':>7} {'Brier':>7} {'ECE':>7} {'lift@10%':>8}"
    print(header)
    print("-" * len(header))
    for name, runs in results.items():
        for r in runs:
            for scorer, m in [("model", r["model"]), *r["baselines"].items()]:
                print(
                    f"{name:13} {r.get('seed', '')!s:>4} {scorer:9} {m['auc']:7.4f} {m['brier']:7.4f} "
                    f"{m['ece']:7.4f} {m['top_decile_lift']:8.2f}"
                )
        for scorer in ("model", "hgb", "logistic"):
            pick = [r["model"] if scorer == "model" else r["baselines"][scorer] for r in runs]
            mean = {k: statistics.fmean(m[k] for m in pick) for k in ("auc", "brier", "ece", "top_decile_lift")}
            print(
                f"{name:13} {'mean':>4} {scorer:9} {mean['auc']:7.4f} {mean['brier']:7.4f} {mean['ece']:7.4f} {mean['top_decile_lift']:8.2f}"
            )
        first = runs[0]
        print(
            f"{name}: {first['n_train']} train / {first['n_test']} test rows, positive {first['positive']!r} "
            f"({first['positive_rate']:.3f}), {first['estimator']} + {first['calibration']}; "
            f"left out as leaky: {first['leaky'] or 'none'}; AUC >= hgb in "
            f"{sum(r['model']['auc'] >= r['baselines']['hgb']['auc'] for r in runs)}/{len(runs)} seeds, "
            f"ECE <= 0.015 in {sum(r['model']['ece'] <= 0.015 for r in runs)}/{len(runs)}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"bench": "scoring_public", "seeds": seeds, **results}, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
