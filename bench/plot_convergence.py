#!/usr/bin/env python3
"""Price convergence of the LS2001 put (S=36, K=40, sigma=0.2, T=1, r=0.06, 50 dates): price +- 2
standard errors against the number of pricing paths, pathgrid and QuantLib's MCAmericanEngine,
against the finite-difference Bermudan value 4.4778. Writes a PNG (default
docs/ls2001-convergence.png) and prints the points as JSON on stdout.

Run it with the Python of the bench venv (it has QuantLib; add matplotlib once):

    ~/.cache/pathgrid/quantlib-venv/bin/pip install matplotlib
    cargo build --release -p pathgrid-cli
    ~/.cache/pathgrid/quantlib-venv/bin/python bench/plot_convergence.py

pathgrid runs through `pathgrid bench --cases ls2001 --paths N --json` (one thread, training
paths N/2); QuantLib through bench/quantlib_bench.py with N/2 antithetic samples (N paths) and as
many calibration samples.
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
KNOWN = 4.4778


def pathgrid_point(binary, paths):
    out = subprocess.run(
        [binary, "bench", "--cases", "ls2001", "--paths", str(paths), "--json"],
        check=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    ).stdout
    case = json.loads(out)["cases"][0]
    row = next(r for r in case["rows"] if r["engine"] == "pathgrid")
    return {"paths": paths, "price": row["price"], "std_error": row["std_error"], "seconds": row["seconds"]}


def quantlib_point(paths, basis):
    samples = max(1, paths // 2)
    out = subprocess.run(
        [
            sys.executable,
            os.path.join(HERE, "quantlib_bench.py"),
            "--case",
            "ls2001",
            "--samples",
            str(samples),
            "--basis",
            basis,
            "--fd-grid",
            "0",
        ],
        check=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    ).stdout
    run = json.loads(out)["runs"][0]
    return {"paths": 2 * samples, "price": run["price"], "std_error": run["std_error"], "seconds": run["seconds"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pathgrid", default=os.path.join(HERE, "..", "target", "release", "pathgrid"))
    ap.add_argument("--output", default=os.path.join(HERE, "..", "docs", "ls2001-convergence.png"))
    ap.add_argument("--paths", default="5000,10000,20000,50000,100000,200000,500000,1000000")
    ap.add_argument("--ql-paths", default="5000,10000,20000,50000,100000,200000")
    ap.add_argument("--ql-basis", default="monomial:3")
    args = ap.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pg = []
    for n in (int(x) for x in args.paths.split(",")):
        pg.append(pathgrid_point(args.pathgrid, n))
        print(f"pathgrid {n}: {pg[-1]['price']:.5f} +- {pg[-1]['std_error']:.5f}", file=sys.stderr)
    ql = []
    for n in (int(x) for x in args.ql_paths.split(",")):
        ql.append(quantlib_point(n, args.ql_basis))
        print(f"quantlib {n}: {ql[-1]['price']:.5f} +- {ql[-1]['std_error']:.5f}", file=sys.stderr)

    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=120)
    ax.axhline(KNOWN, color="black", lw=1, ls="--", label=f"Bermudan FD {KNOWN}")
    for points, label, color, shift in (
        (pg, "pathgrid (laguerre 3, control variate)", "tab:blue", 0.97),
        (ql, f"QuantLib 1.44 MCAmericanEngine ({args.ql_basis.replace(':', ' ')})", "tab:orange", 1.03),
    ):
        ax.errorbar(
            [p["paths"] * shift for p in points],
            [p["price"] for p in points],
            yerr=[2 * p["std_error"] for p in points],
            fmt="o",
            ms=4,
            capsize=3,
            color=color,
            label=label,
        )
    ax.set_xscale("log")
    ax.set_xlabel("pricing paths (training/calibration: half as many for pathgrid, as many for QuantLib)")
    ax.set_ylabel("price ± 2 s.e.")
    ax.set_title("LS2001 American put, S=36 K=40 σ=0.2 T=1 r=0.06, 50 dates, one core")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.output)
    print(json.dumps({"known_value": KNOWN, "pathgrid": pg, "quantlib": ql}))
    print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
