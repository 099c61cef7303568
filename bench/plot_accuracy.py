#!/usr/bin/env python3
"""Plots price, Bermudan bounds, the 95% interval and the FD American value of the LS2001 put
(S 36, K 40, sigma 0.2, T 1, r 0.06) against the number of paths, from `pathgrid run --json`.

Usage:  python3 bench/plot_accuracy.py [path/to/pathgrid]   (writes docs/accuracy-ls2001.png)
Needs matplotlib. Reference values: tests/reference/american_fd.json (bench/make_reference.py).
"""

import json
import os
import subprocess
import sys
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
PATHS = [5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 400_000]


def main():
    pg = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "release", "pathgrid")
    ref = json.load(open(os.path.join(ROOT, "tests", "reference", "american_fd.json")))
    case = next(c for c in ref["sets"]["ls2001"] if c["id"] == "ls-36-0.2-1")
    rows = []
    for paths in PATHS:
        spec = {"name": "plot", "seed": 42, "paths": paths, "instruments": [{
            "id": "put-36", "model": {"type": "gbm", "spot": 36.0, "vol": 0.2, "rate": 0.06},
            "payoff": {"type": "put", "strike": 40.0}, "exercise": {"style": "american", "maturity": 1.0}}]}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(spec, f)
        out = subprocess.run([pg, "run", f.name, "--json", "--quiet"], capture_output=True, text=True, check=True)
        os.unlink(f.name)
        r = json.loads(out.stdout)["results"][0]
        rows.append((paths, r))
        print(paths, r["price"], r["ci95"], file=sys.stderr)
    xs = [p for p, _ in rows]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.fill_between(xs, [r["ci95"][0] for _, r in rows], [r["ci95"][1] for _, r in rows], alpha=0.2,
                    label="95% interval (ci95)")
    ax.plot(xs, [r["price"] for _, r in rows], "o-", label="price (extrapolated to continuous exercise)")
    ax.plot(xs, [r["lower_bound"]["value"] for _, r in rows], "v--", label="Bermudan lower bound (50 dates)")
    ax.plot(xs, [r["upper_bound"]["value"] for _, r in rows], "^--", label="Bermudan dual upper bound")
    ax.axhline(case["american_fd"], color="k", lw=1, label="American, FD")
    ax.axhline(case["bermudan_fd"], color="gray", lw=1, ls=":", label="Bermudan (50 dates), FD")
    ax.set_xscale("log")
    ax.set_xlabel("pricing paths (training paths = half)")
    ax.set_ylabel("value")
    ax.set_title("LS2001 put S=36, K=40, σ=0.2, T=1, r=0.06")
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = os.path.join(ROOT, "docs", "accuracy-ls2001.png")
    fig.savefig(out, dpi=110)
    print("wrote", out, file=sys.stderr)


if __name__ == "__main__":
    main()
