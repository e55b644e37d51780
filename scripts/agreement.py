#!/usr/bin/env python3
"""Agreement of a fit's clusters with a label column: the adjusted Rand index (Hubert and
Arabie 1985) and the contingency table, from the `assignments` of `jensen fit --out`.

    python3 scripts/agreement.py FIT.json DATA.csv LABEL_COLUMN

Standard library only.
"""
import csv
import json
import sys
from collections import Counter
from math import comb


def adjusted_rand(labels, clusters):
    n = len(labels)
    pairs = Counter(zip(labels, clusters))
    index = sum(comb(c, 2) for c in pairs.values())
    a = sum(comb(c, 2) for c in Counter(labels).values())
    b = sum(comb(c, 2) for c in Counter(clusters).values())
    expected = a * b / comb(n, 2)
    top = (a + b) / 2
    return (index - expected) / (top - expected) if top != expected else 1.0


def main():
    fit_path, data_path, column = sys.argv[1:4]
    clusters = json.load(open(fit_path))["assignments"]
    labels = [row[column] for row in csv.DictReader(open(data_path))]
    assert len(labels) == len(clusters), "the fit and the data have different rows"
    print(f"adjusted Rand index {adjusted_rand(labels, clusters):.3f} ({len(labels)} rows)")
    names = sorted(set(labels))
    print("cluster  " + "  ".join(f"{n:>9}" for n in names))
    for k in sorted(set(clusters)):
        row = Counter(l for l, c in zip(labels, clusters) if c == k)
        print(f"{k:>7}  " + "  ".join(f"{row[n]:>9}" for n in names))


if __name__ == "__main__":
    main()
