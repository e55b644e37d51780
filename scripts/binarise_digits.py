"""Writes data/digits_binary.csv: the 64 pixels of data/digits.csv thresholded at 7
(p > 7 -> 1, else 0), with the digit label kept as the last column.

Run from the repository root: python3 scripts/binarise_digits.py
"""
import csv

with open("data/digits.csv") as src:
    rows = list(csv.reader(src))
header = rows[0]
pixels = [i for i, h in enumerate(header) if h != "label"]
label = header.index("label")
with open("data/digits_binary.csv", "w", newline="") as dst:
    out = csv.writer(dst, lineterminator="\n")
    out.writerow([header[i] for i in pixels] + ["label"])
    for r in rows[1:]:
        out.writerow(["1" if float(r[i]) > 7 else "0" for i in pixels] + [r[label]])
