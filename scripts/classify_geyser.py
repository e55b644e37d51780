"""Writes data/geyser_classes.csv: the eruption duration of each of the 299
consecutive eruptions in data/geyser.csv, coded as a class (a symbol for a
categorical hidden Markov model):

    0  duration < 3 min          (short eruption)
    1  3 <= duration < 4 min     (medium)
    2  duration >= 4 min         (long)

One column, `eruption`, in the same (time) order as data/geyser.csv. Note that
MASS::geyser records some night-time durations only as the coded values 2, 3
and 4 minutes; those fall in classes 0, 1 and 2 respectively (the boundaries
are inclusive on the left).

Run from anywhere: python3 scripts/classify_geyser.py
"""
import csv
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"


def eruption_class(duration: float) -> int:
    if duration < 3.0:
        return 0
    if duration < 4.0:
        return 1
    return 2


with open(DATA / "geyser.csv", newline="") as src:
    durations = [float(row["duration"]) for row in csv.DictReader(src)]
with open(DATA / "geyser_classes.csv", "w", newline="") as dst:
    out = csv.writer(dst, lineterminator="\n")
    out.writerow(["eruption"])
    for d in durations:
        out.writerow([eruption_class(d)])
