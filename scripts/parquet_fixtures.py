#!/usr/bin/env python3
"""Parquet files for jensen's Parquet input tests, written by pyarrow (an independent writer).

What
----
``tests/fixtures/parquet/faithful.parquet``: ``data/faithful.csv`` (two float64 columns),
snappy-compressed, in row groups of 100 rows. ``tests/fixtures/parquet/iris.parquet``:
``data/iris.csv`` with ``species`` as a dictionary-encoded string column (pandas'
``category``), zstd-compressed, and the first row's ``sepal_width`` null.

Why
---
``jensen fit --data FILE.parquet`` (cargo feature ``parquet``) must read what the Python
ecosystem writes: several row groups, dictionary-encoded text, compressed pages and nulls,
and fit it as it fits the CSV (``cargo test -p jensen-cli --features parquet parquet``).

Run ``python scripts/parquet_fixtures.py`` with the packages of ``scripts/requirements.txt``.
"""
import argparse
import csv
import pathlib

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = pathlib.Path(__file__).resolve().parent.parent


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=pathlib.Path, default=ROOT / "data")
    args, _ = parser.parse_known_args()
    out = ROOT / "tests" / "fixtures" / "parquet"
    out.mkdir(parents=True, exist_ok=True)

    header, rows = read_csv(args.data_dir / "faithful.csv")
    table = pa.table({h: pa.array([float(r[i]) for r in rows], pa.float64()) for i, h in enumerate(header)})
    pq.write_table(table, out / "faithful.parquet", compression="snappy", row_group_size=100)

    header, rows = read_csv(args.data_dir / "iris.csv")
    columns = {}
    for i, h in enumerate(header):
        if h == "species":
            columns[h] = pa.array([r[i] for r in rows]).dictionary_encode()
        else:
            values = [float(r[i]) for r in rows]
            if h == "sepal_width":
                values[0] = None
            columns[h] = pa.array(values, pa.float64())
    pq.write_table(pa.table(columns), out / "iris.parquet", compression="zstd")


if __name__ == "__main__":
    main()
