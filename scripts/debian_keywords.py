"""Writes data/debian_keywords.csv: for each package description of
data/debian_descriptions.csv, its number of counted words (`words`, the row's sum over the 200
word columns) and how many of them name each of six topics, by fixed keyword lists taken from
the section names and their direct synonyms:

    games     game, games
    sound     sound, audio, music
    graphics  graphics, image, images
    math      algebra, mathematical
    database  database, databases
    radio     radio, ham, amateur

Each topic count is a number of successes out of the row's `words` trials: the data of a
binomial with trials from a column, `games[n] ~ Binomial(words[n], p[z[n]])`
(`models/binomial_keywords.em`). `package` and `section` are kept; the section labels are not
used to make the counts.

Run from anywhere: python3 scripts/debian_keywords.py
"""
import csv
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"

TOPICS = {
    "games": ["game", "games"],
    "sound": ["sound", "audio", "music"],
    "graphics": ["graphics", "image", "images"],
    "math": ["algebra", "mathematical"],
    "database": ["database", "databases"],
    "radio": ["radio", "ham", "amateur"],
}

with open(DATA / "debian_descriptions.csv", newline="") as src:
    rows = list(csv.DictReader(src))

with open(DATA / "debian_keywords.csv", "w", newline="") as out:
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["package", "section", "words", *TOPICS])
    for row in rows:
        words = sum(int(v) for k, v in row.items() if k.startswith("w_"))
        counts = [sum(int(row["w_" + word]) for word in TOPICS[t]) for t in TOPICS]
        w.writerow([row["package"], row["section"], words, *counts])
