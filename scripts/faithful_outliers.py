"""Writes data/faithful_outliers.csv: the 272 eruptions of data/faithful.csv followed by eight
gross outliers (recording errors of the kind a duration in seconds or a missed eruption
makes), placed by hand far from both clusters:

    eruptions  waiting
    0.2        140
    7.5        20
    8.0        140
    0.3        20
    4.0        150
    9.0        60
    2.0        130
    6.5        150

A Gaussian mixture with two components must cover these with its clusters; a Student-t
mixture (`models/t_mix.em`) weighs them down and keeps the two clusters of the clean data
(`tests/tests/references.rs`, `student_t`).

Run from anywhere: python3 scripts/faithful_outliers.py
"""
import csv
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"
OUTLIERS = [(0.2, 140), (7.5, 20), (8.0, 140), (0.3, 20), (4.0, 150), (9.0, 60), (2.0, 130), (6.5, 150)]

with open(DATA / "faithful.csv", newline="") as src:
    rows = list(csv.reader(src))

with open(DATA / "faithful_outliers.csv", "w", newline="") as out:
    w = csv.writer(out, lineterminator="\n")
    w.writerows(rows)
    for e, t in OUTLIERS:
        w.writerow([e, t])
