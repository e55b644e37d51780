"""Writes data/discoveries_counts.csv: the frequency table of data/discoveries.csv, one row
per number of great discoveries in a year with the number of years that saw it:

    discoveries,years
    0,9
    1,12
    ...

The 100 years of R's `datasets::discoveries` become 11 rows whose `years` sum to 100: data as
surveys and aggregated records often come, a value with its frequency. A model that declares
`data years[N]: weight` fits this table exactly as the model without weights fits the 100
years (`models/poisson_mix_weighted.em`; `tests/tests/weights.rs`).

Run from anywhere: python3 scripts/tabulate_discoveries.py
"""
import csv
from collections import Counter
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"

with open(DATA / "discoveries.csv", newline="") as src:
    counts = Counter(int(row["discoveries"]) for row in csv.DictReader(src))

with open(DATA / "discoveries_counts.csv", "w", newline="") as out:
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["discoveries", "years"])
    for value in sorted(counts):
        w.writerow([value, counts[value]])
