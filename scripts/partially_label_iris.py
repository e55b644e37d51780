"""Writes data/iris_partially_labelled.csv: data/iris.csv with the species kept on 15 rows
(5 of each species, drawn with Python's `random.Random(2026)`) and left empty on the other
135, for semi-supervised fits (`models/gmm_iris_semisupervised.em`,
`tests/tests/labels.rs`). The rows, their order and the measurements are unchanged.

Run from anywhere: python3 scripts/partially_label_iris.py
"""
import csv
import random
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"

with open(DATA / "iris.csv", newline="") as src:
    reader = csv.DictReader(src)
    fields = reader.fieldnames
    rows = list(reader)

rng = random.Random(2026)
keep = set()
for species in sorted({r["species"] for r in rows}):
    members = [i for i, r in enumerate(rows) if r["species"] == species]
    keep.update(rng.sample(members, 5))

with open(DATA / "iris_partially_labelled.csv", "w", newline="") as out:
    w = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for i, r in enumerate(rows):
        w.writerow({**r, "species": r["species"] if i in keep else ""})
