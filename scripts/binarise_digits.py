"""Writes data/digits_binary.csv: the 64 pixels of data/digits.csv thresholded at 7 (p > 7 -> 1), label dropped.

Run from the repository root: python3 scripts/binarise_digits.py
"""
import csv

with open("data/digits.csv") as src:
    rows = list(csv.reader(src))
header = rows[0]
keep = [i for i, h in enumerate(header) if h != "label"]
with open("data/digits_binary.csv", "w", newline="") as dst:
    out = csv.writer(dst, lineterminator="\n")
    out.writerow([header[i] for i in keep])
    for r in rows[1:]:
        out.writerow(["1" if float(r[i]) > 7 else "0" for i in keep])
