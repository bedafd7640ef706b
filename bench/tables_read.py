"""Reading users' tables and featurizing them: speed, memory while streaming, and a real-file check.

(a) Streaming: a synthetic CSV (id, plan, amount, signup date, yes/no flag, quoted note with a
    comma) of --rows rows is written to a temp dir and read with ``iter_table`` in 50,000-row
    chunks; reports rows/s, MB/s and the peak resident memory, which must stay far below the file
    size (the file is never loaded whole). ``count_rows`` is timed on the same file.
(b) Real file: the social-pressure mail experiment (344,084 rows, gzip CSV, from
    /work/shared/data; see its SOURCE.md) is read with ``read_table``; the kinds are printed and
    the treatment and turnout counts are checked against SOURCE.md. Then ``infer_specs`` +
    ``TableFeaturizer`` fit and transform it; the matrix is checked for NaN.

    python bench/tables_read.py [--rows 4000000] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from decision.tabular import TableFeaturizer, infer_specs
from hub.tables import count_rows, iter_table, read_table

ROOT = Path(__file__).resolve().parents[1]
PLANS = np.array(["pro", "free", "team", "enterprise", "NA"])
SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("plan", pa.string()),
        ("amount", pa.float64()),
        ("signup", pa.string()),
        ("opted", pa.string()),
        ("note", pa.string()),
    ]
)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def write_synthetic(path: Path, rows: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    with pcsv.CSVWriter(path, SCHEMA) as writer:
        for start in range(0, rows, 250_000):
            m = min(250_000, rows - start)
            writer.write_table(
                pa.table(
                    {
                        "id": np.arange(start, start + m),
                        "plan": PLANS[rng.integers(0, len(PLANS), m)],
                        "amount": np.round(rng.lognormal(3, 1, m), 2),
                        "signup": (np.datetime64("2023-01-01") + rng.integers(0, 500, m)).astype(str),
                        "opted": np.where(rng.random(m) < 0.5, "yes", "no"),
                        "note": pc.binary_join_element_wise("note, ", (np.arange(m) % 97).astype(str), ""),
                    },
                    schema=SCHEMA,
                )
            )


def streaming(rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.csv"
        writer = multiprocessing.get_context("spawn").Process(target=write_synthetic, args=(path, rows))
        writer.start()  # in another process, so this one's peak memory is the reader's alone
        writer.join()
        size_mb = path.stat().st_size / 1e6
        before = peak_mb()
        start = time.perf_counter()
        n = 0
        for chunk in iter_table(path, chunk_rows=50_000):
            n += chunk.n_rows
        seconds = time.perf_counter() - start
        print(
            f"(a) iter_table: {n:,} rows, {size_mb:.0f} MB in {seconds:.2f} s = {n / seconds:,.0f} rows/s, "
            f"{size_mb / seconds:.1f} MB/s; peak RSS {peak_mb():.0f} MB (before reading {before:.0f} MB)"
        )
        start = time.perf_counter()
        counted = count_rows(path)
        print(f"    count_rows: {counted:,} in {time.perf_counter() - start:.2f} s")
        assert counted == n == rows


def real_file(data_dir: Path) -> None:
    path = data_dir / "social_pressure" / "social_pressure.csv.gz"
    if not path.exists():
        print(f"(b) skipped: {path} not found")
        return
    start = time.perf_counter()
    table = read_table(path)
    seconds = time.perf_counter() - start
    print(f"(b) read_table {path.name}: {table.n_rows:,} rows in {seconds:.2f} s; kinds {table.kinds}")
    levels, counts = np.unique(table.column("treatment"), return_counts=True)
    found = dict(zip(levels.tolist(), counts.tolist(), strict=True))
    expected = {"Control": 191_243, "Civic Duty": 38_218, "Self": 38_218, "Hawthorne": 38_204, "Neighbors": 38_201}
    assert found == expected, found
    assert int(np.nansum(table.column("voted"))) == 108_696
    print(f"    treatment counts and 108,696 voters match SOURCE.md: {found}")
    start = time.perf_counter()
    notes: list[str] = []
    specs = infer_specs(table, exclude=["voted", "treatment"], notes=notes)
    featurizer = TableFeaturizer(specs).fit(table, now=datetime(2006, 8, 8, tzinfo=UTC))
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    x = featurizer.transform(table, now=datetime(2006, 8, 8, tzinfo=UTC))
    transform_s = time.perf_counter() - start
    assert np.isfinite(x).all()
    print(
        f"    infer_specs + fit {fit_s:.2f} s, transform {transform_s:.2f} s -> {x.shape}, "
        f"{x.shape[0] / transform_s:,.0f} rows/s; version {featurizer.version}"
    )
    print(f"    specs: {[(s.name, s.type, s.log1p) for s in specs]}; notes: {notes}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent.parent / "shared" / "data")
    args = parser.parse_args(argv)
    streaming(args.rows)
    real_file(args.data_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
