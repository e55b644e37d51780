#!/usr/bin/env python3
"""Data with missing cells, and reference EM trajectories on them, for jensen's tests.

What
----
1. Data (written to ``data/``): ``iris_missing10.csv``, ``iris_missing30.csv``,
   ``faithful_missing10.csv``, ``faithful_missing30.csv`` and ``geyser_missing10.csv``:
   copies of ``iris.csv``, ``faithful.csv`` and ``geyser.csv`` with 10 % or 30 % of the
   numeric cells left empty, chosen uniformly at random without replacement
   (``numpy.random.default_rng(SEED).choice``; exactly ``round(p * N * D)`` cells). Rows,
   their order, the other cells and iris' ``species`` column are unchanged. Rows may lose
   every cell.

2. Fixtures (``tests/fixtures/missing/<case>.json``): ``ITERATIONS`` iterations of EM
   for a Gaussian mixture with a full covariance per component (iris K = 3, faithful
   K = 2), a Gaussian hidden Markov model (geyser, K = 2) and factor analysis (iris, L = 2
   factors; ``<case>_fa.json``, see ``fa``), written here from scratch
   with NumPy/SciPy, missing at random: a row's log-likelihood is the marginal density of
   its observed coordinates (``scipy.stats.multivariate_normal.logpdf`` of ``x_o`` under
   ``N(mu_o, Sigma_oo)``), and the M-step uses the expected sufficient statistics of
   Ghahramani & Jordan (1994): ``E[x_m | x_o, z = k] = mu_m + Sigma_mo Sigma_oo^-1
   (x_o - mu_o)`` and ``E[x_m x_m' | x_o, z = k]`` adds ``Sigma_mm - Sigma_mo Sigma_oo^-1
   Sigma_om`` (``numpy.linalg.solve``). No regularisation (jensen's ``reg_covar = 0``).
   The HMM runs the scaled forward-backward recursions of Rabiner (1989) over these
   emission densities; a fully missing step has density 1 and keeps its transitions.
   Each fixture holds the starting parameters, the total log-likelihood after every
   E-step (``ITERATIONS + 1`` values, the last at the parameters of the final M-step),
   the final parameters and the number of missing cells.

Starting parameters: uniform weights (mixture) or initial distribution and transition
rows ``0.9`` on the diagonal (HMM); means at the first complete rows at or after fixed
indices (the last entry of each case); every covariance the biased covariance of the complete rows.

Why
---
jensen integrates missing cells out of each block's E-step (``jensen_runtime::gaps``);
from the same start it must follow this independent implementation step for step
(``tests/tests/missing.rs``).

Usage
-----
    .venv-ref/bin/python scripts/missing_fixtures.py
"""
import csv
import json
from pathlib import Path

import numpy as np
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
OUT = ROOT / "tests" / "fixtures" / "missing"
SEED = 2026
ITERATIONS = 40

# (name of the source, columns of the data item, fraction removed, K, model, rows of means)
CASES = [
    ("iris", ["sepal_length", "sepal_width", "petal_length", "petal_width"], 0.1, 3, "gmm", [0, 60, 120]),
    ("iris", ["sepal_length", "sepal_width", "petal_length", "petal_width"], 0.3, 3, "gmm", [0, 60, 120]),
    ("faithful", ["eruptions", "waiting"], 0.1, 2, "gmm", [0, 1]),
    ("faithful", ["eruptions", "waiting"], 0.3, 2, "gmm", [0, 1]),
    ("geyser", ["waiting", "duration"], 0.1, 2, "hmm", [0, 1]),
    # Factor analysis with L = 2 factors (the last entry unused).
    ("iris", ["sepal_length", "sepal_width", "petal_length", "petal_width"], 0.1, 2, "fa", []),
    ("iris", ["sepal_length", "sepal_width", "petal_length", "petal_width"], 0.3, 2, "fa", []),
]


def write_missing(source, columns, fraction):
    with open(DATA / f"{source}.csv", newline="") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames
        rows = list(reader)
    n, d = len(rows), len(columns)
    count = round(fraction * n * d)
    rng = np.random.default_rng(SEED)
    cells = rng.choice(n * d, size=count, replace=False)
    for c in sorted(cells):
        rows[c // d][columns[c % d]] = ""
    name = f"{source}_missing{round(fraction * 100)}.csv"
    with open(DATA / name, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    x = np.array([[float(r[c]) if r[c] != "" else np.nan for c in columns] for r in rows])
    return name, x, count


def conditional(x, mu, sigma):
    """Row log-density of the observed cells, E[x | x_o] and the conditional covariance."""
    o = ~np.isnan(x)
    m = ~o
    d = len(x)
    xhat = np.where(o, x, 0.0)
    cov = np.zeros((d, d))
    if not o.any():
        return 0.0, mu.copy(), sigma.copy()
    logp = multivariate_normal.logpdf(x[o], mean=mu[o], cov=sigma[np.ix_(o, o)])
    if m.any():
        soo = sigma[np.ix_(o, o)]
        smo = sigma[np.ix_(m, o)]
        xhat[m] = mu[m] + smo @ np.linalg.solve(soo, x[o] - mu[o])
        cov[np.ix_(m, m)] = sigma[np.ix_(m, m)] - smo @ np.linalg.solve(soo, smo.T)
    return logp, xhat, cov


def emissions(x, mus, sigmas):
    n, k = len(x), len(mus)
    logb = np.zeros((n, k))
    xhat = np.zeros((n, k, x.shape[1]))
    cov = np.zeros((n, k, x.shape[1], x.shape[1]))
    for i in range(n):
        for j in range(k):
            logb[i, j], xhat[i, j], cov[i, j] = conditional(x[i], mus[j], sigmas[j])
    return logb, xhat, cov


def m_step_gaussian(r, xhat, cov):
    nk = r.sum(axis=0)
    mus = np.einsum("nk,nkd->kd", r, xhat) / nk[:, None]
    sigmas = []
    for j in range(len(nk)):
        e = xhat[:, j] - mus[j]
        s = np.einsum("n,nd,ne->de", r[:, j], e, e) + np.einsum("n,nde->de", r[:, j], cov[:, j])
        sigmas.append(s / nk[j])
    return nk, mus, np.array(sigmas)


def gmm(x, w, mus, sigmas):
    trace = []
    for it in range(ITERATIONS + 1):
        logb, xhat, cov = emissions(x, mus, sigmas)
        lj = logb + np.log(w)
        ll = logsumexp(lj, axis=1)
        trace.append(float(ll.sum()))
        if it == ITERATIONS:
            break
        r = np.exp(lj - ll[:, None])
        nk, mus, sigmas = m_step_gaussian(r, xhat, cov)
        w = nk / len(x)
    return trace, {"w": w.tolist(), "mu": mus.tolist(), "Sigma": sigmas.tolist()}


def hmm(x, p0, a, mus, sigmas):
    trace = []
    n, k = len(x), len(p0)
    for it in range(ITERATIONS + 1):
        logb, xhat, cov = emissions(x, mus, sigmas)
        shift = logb.max(axis=1, keepdims=True)
        b = np.exp(logb - shift)
        alpha = np.zeros((n, k))
        c = np.zeros(n)
        alpha[0] = p0 * b[0]
        c[0] = alpha[0].sum()
        alpha[0] /= c[0]
        for t in range(1, n):
            alpha[t] = (alpha[t - 1] @ a) * b[t]
            c[t] = alpha[t].sum()
            alpha[t] /= c[t]
        trace.append(float(np.log(c).sum() + shift.sum()))
        if it == ITERATIONS:
            break
        beta = np.ones((n, k))
        for t in range(n - 2, -1, -1):
            beta[t] = (a @ (b[t + 1] * beta[t + 1])) / c[t + 1]
        gamma = alpha * beta
        xi = np.zeros((k, k))
        for t in range(n - 1):
            xi += np.outer(alpha[t], b[t + 1] * beta[t + 1]) * a / c[t + 1]
        p0 = gamma[0] / gamma[0].sum()
        a = xi / xi.sum(axis=1, keepdims=True)
        _, mus, sigmas = m_step_gaussian(gamma, xhat, cov)
    return trace, {"p0": p0.tolist(), "A": a.tolist(), "mu": mus.tolist(), "Sigma": sigmas.tolist()}


def fa(x, w, mu, psi):
    """EM for factor analysis x = W h + mu + e, h ~ N(0, I), e ~ N(0, diag(psi)), with the
    joint posterior of (h, x_m) given x_o (Ghahramani & Hinton 1996; Ghahramani & Jordan
    1994): W and mu jointly by least squares, then psi from the new ones."""
    n, d = x.shape
    l = w.shape[1]
    trace = []
    for it in range(ITERATIONS + 1):
        ll = 0.0
        a = np.zeros((d, l + 1))  # sum of E[x h~']
        b = np.zeros((l + 1, l + 1))  # sum of E[h~ h~']
        xx = np.zeros(d)  # sum of E[x_j^2]
        for i in range(n):
            o = ~np.isnan(x[i])
            if o.any():
                wo, po = w[o], psi[o]
                ll += multivariate_normal.logpdf(x[i, o], mean=mu[o], cov=wo @ wo.T + np.diag(po))
                g = np.linalg.inv(np.eye(l) + wo.T @ (wo / po[:, None]))
                m = g @ wo.T @ ((x[i, o] - mu[o]) / po)
            else:
                g, m = np.eye(l), np.zeros(l)
            hh = g + np.outer(m, m)
            b += np.block([[hh, m[:, None]], [m[None, :], np.ones((1, 1))]])
            for j in range(d):
                if o[j]:
                    a[j] += x[i, j] * np.append(m, 1.0)
                    xx[j] += x[i, j] ** 2
                else:
                    a[j] += np.append(mu[j] * m + w[j] @ hh, mu[j] + w[j] @ m)
                    xx[j] += (mu[j] + w[j] @ m) ** 2 + w[j] @ g @ w[j] + psi[j]
        trace.append(float(ll))
        if it == ITERATIONS:
            break
        wt = np.linalg.solve(b, a.T).T
        psi = (xx - 2 * np.einsum("jk,jk->j", wt, a) + np.einsum("jk,kl,jl->j", wt, b, wt)) / n
        w, mu = wt[:, :l], wt[:, l]
    # W is identified up to a rotation: record W W' too.
    return trace, {"W": w.tolist(), "mu": mu.tolist(), "psi": psi.tolist(), "WWt": (w @ w.T).tolist()}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for source, columns, fraction, k, model, mean_rows in CASES:
        name, x, count = write_missing(source, columns, fraction)
        complete = x[~np.isnan(x).any(axis=1)]
        # The first complete row at or after each of `mean_rows`.
        full = ~np.isnan(x).any(axis=1)
        starts = [i + int(np.argmax(full[i:])) for i in mean_rows]
        mus = np.array([x[i] for i in starts])
        s = np.cov(complete.T, bias=True)
        sigmas = np.array([s] * k)
        if model == "fa":
            # k is the number of factors: loadings 0.3 times the columns' standard
            # deviations, alternating in sign; the complete rows' means and variances.
            sd = np.sqrt(np.diag(s))
            w = np.array([[0.3 * sd[j] * (-1) ** (j + f) for f in range(k)] for j in range(len(columns))])
            init = {"W": w.tolist(), "mu": complete.mean(axis=0).tolist(), "psi": np.diag(s).tolist()}
            trace, final = fa(x, w, complete.mean(axis=0), np.diag(s).copy())
        elif model == "gmm":
            w = np.full(k, 1.0 / k)
            init = {"w": w.tolist(), "mu": mus.tolist(), "Sigma": sigmas.tolist()}
            trace, final = gmm(x, w, mus, sigmas)
        else:
            p0 = np.full(k, 1.0 / k)
            a = np.full((k, k), 0.1 / (k - 1))
            np.fill_diagonal(a, 0.9)
            init = {"p0": p0.tolist(), "A": a.tolist(), "mu": mus.tolist(), "Sigma": sigmas.tolist()}
            trace, final = hmm(x, p0, a, mus, sigmas)
        case = name.removesuffix(".csv") + ("_fa" if model == "fa" else "")
        out = {
            "data": name,
            "columns": columns,
            "model": model,
            "k": k,
            "missing_cells": count,
            "rows_all_missing": int(np.isnan(x).all(axis=1).sum()),
            "mean_rows": starts,
            "iterations": ITERATIONS,
            "init": init,
            "log_likelihood": trace,
            "final": final,
        }
        (OUT / f"{case}.json").write_text(json.dumps(out, indent=1) + "\n")
        print(f"{case}: {count} cells missing, ℓ {trace[0]:.6f} → {trace[-1]:.6f}")


if __name__ == "__main__":
    main()
