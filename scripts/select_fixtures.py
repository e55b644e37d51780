#!/usr/bin/env python3
"""Reference information criteria for `jensen select`, from scikit-learn.

What
----
``tests/fixtures/select/faithful.json``: for the Old Faithful eruptions (``data/faithful.csv``)
and K = 1, 2, 3, scikit-learn ``GaussianMixture`` (``covariance_type`` full and diag, 20
k-means++ initialisations, ``tol=1e-10``, ``reg_covar=0``) gives the log-likelihood, ``bic``
and ``aic``, and ICL computed here as ``bic + 2 · Σ_n Σ_k −r_nk ln r_nk`` from
``predict_proba`` (the entropy of the posterior; the convention of mclust's ``icl`` on the
"lower is better" scale).

Why
---
``jensen select models/gmm.em models/gmm_diag.em --range K=1..3`` must reach the same optima
and count the same free parameters: BIC = −2 ln L + p ln n and AIC = −2 ln L + 2p agree with
scikit-learn's to the convergence tolerance, and ICL with the entropy of the same posterior.
K ≥ 4 is left out: the likelihood there has several optima within the tolerance (and a
degenerate one), which makes a poor fixed reference.

Run ``python scripts/select_fixtures.py`` with the packages of ``scripts/requirements.txt``.
"""
import argparse
import json
import pathlib

import numpy as np
from sklearn.mixture import GaussianMixture

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=pathlib.Path, default=ROOT / "data")
    args, _ = parser.parse_known_args()
    x = np.loadtxt(args.data_dir / "faithful.csv", delimiter=",", skiprows=1)
    rows = []
    for model, cov in [("models/gmm.em", "full"), ("models/gmm_diag.em", "diag")]:
        for k in (1, 2, 3):
            g = GaussianMixture(
                k,
                covariance_type=cov,
                n_init=20,
                tol=1e-10,
                max_iter=5000,
                reg_covar=0.0,
                random_state=0,
            ).fit(x)
            r = g.predict_proba(x)
            entropy = float(-(r[r > 0] * np.log(r[r > 0])).sum())
            bic = float(g.bic(x))
            rows.append(
                {
                    "model": model,
                    "K": k,
                    "log_likelihood": float(g.score(x) * len(x)),
                    "free_parameters": int(g._n_parameters()),
                    "bic": bic,
                    "aic": float(g.aic(x)),
                    "icl": bic + 2.0 * entropy,
                }
            )
    out = ROOT / "tests" / "fixtures" / "select"
    out.mkdir(parents=True, exist_ok=True)
    (out / "faithful.json").write_text(json.dumps({"data": "data/faithful.csv", "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
