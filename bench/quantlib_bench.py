#!/usr/bin/env python3
"""QuantLib side of `pathgrid bench`: prices the bench cases with QuantLib on one thread and
prints ONE JSON document on stdout (progress, if any, goes to stderr).

Cases
  ls2001    Longstaff-Schwartz (2001) American put S=36, K=40, sigma=0.2, T=1, r=0.06 with
            MCAmericanEngine (PseudoRandom, antithetic, timeSteps=50 so 50 exercise dates,
            calibration samples = samples), once per basis in --basis; plus the finite-difference
            Bermudan (50 dates) and American values as references.
  csv       A workshop-format CSV priced with the workshop's own settings -- those of QuantLib's
            EquityOption example the AWS workshop ran: MCAmericanEngine PseudoRandom, 100 time
            steps whatever the maturity, antithetic, 4096 calibration samples, absolute tolerance
            0.02, seed 42, monomial basis of order 2 -- and a finite-difference reference per option
            (FdBlackScholesVanillaEngine, --fd-grid time x space steps): American exercise, and
            Bermudan on the exercise dates pathgrid uses (today and --steps-per-year equally spaced
            dates a year, at least --min-steps, rounded to whole days).
  european  The LS2001 put as a European option: MCEuropeanEngine (PseudoRandom, antithetic, one
            time step) against the analytic Black-Scholes price.

"samples" are QuantLib samples: with antithetic variates one sample is a pair of paths, so the
paths simulated are 2 x samples (and 2 x calibration samples for the LSM regression).

Usage
  python3 bench/quantlib_bench.py --case ls2001 --samples 50000
  python3 bench/quantlib_bench.py --case csv --csv portfolio.csv
  python3 bench/quantlib_bench.py --case european --samples 100000

Times are time.perf_counter() around NPV() (engine set-up included), on the calling thread;
QuantLib itself does not spawn threads. "cpu_seconds" is time.process_time() around the same call:
on a busy machine it is the fairer figure.
"""

import argparse
import csv
import datetime
import json
import math
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import QuantLib as ql  # noqa: E402

LS2001 = {"spot": 36.0, "strike": 40.0, "vol": 0.2, "rate": 0.06, "maturity": 1.0, "dates": 50}
BERMUDAN_FD_LS2001 = 4.4778
CSV_COLUMNS = [
    "id",
    "todaysDate",
    "settlementDate",
    "optionType",
    "underlying",
    "strike",
    "riskFreeRate",
    "volatility",
    "maturityDate",
]
# The workshop's MCAmericanEngine settings (QuantLib's EquityOption example).
WORKSHOP = {
    "traits": "PseudoRandom",
    "time_steps": 100,
    "antithetic": True,
    "calibration_samples": 4096,
    "absolute_tolerance": 0.02,
    "seed": 42,
    "basis": "monomial",
    "degree": 2,
}
BASES = {
    "laguerre": ql.LsmBasisSystem.Laguerre,
    "monomial": ql.LsmBasisSystem.Monomial,
    "hermite": ql.LsmBasisSystem.Hermite,
    "legendre": ql.LsmBasisSystem.Legendre,
    "chebyshev": ql.LsmBasisSystem.Chebyshev,
}


def process(today, spot, rate, vol):
    """Black-Scholes-Merton process, no dividends, curves referenced at `today`, Actual/365."""
    dc = ql.Actual365Fixed()
    return ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(spot)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, 0.0, dc)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, rate, dc)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), vol, dc)),
    )


def timed_npv(option):
    """NPV, wall seconds, CPU seconds."""
    start, cpu = time.perf_counter(), time.process_time()
    npv = option.NPV()
    return npv, time.perf_counter() - start, time.process_time() - cpu


def error_estimate(option):
    try:
        e = option.errorEstimate()
    except RuntimeError:
        return None
    return e if math.isfinite(e) else None


def fd_value(proc, payoff, exercise, grid):
    option = ql.VanillaOption(payoff, exercise)
    option.setPricingEngine(ql.FdBlackScholesVanillaEngine(proc, grid, grid))
    return timed_npv(option)


def bermudan_dates(start, days, steps):
    """`steps` equally spaced exercise dates after `start` up to `start + days`, to the nearest day."""
    return [start + int(round(days * (k + 1) / steps)) for k in range(steps)]


def parse_basis(text):
    out = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, _, degree = item.partition(":")
        name = name.strip().lower()
        if name not in BASES:
            raise SystemExit(f"unknown basis {name!r}; expected one of {', '.join(BASES)}")
        out.append((name, int(degree) if degree else 3))
    if not out:
        raise SystemExit("--basis is empty")
    return out


def case_ls2001(args):
    p = LS2001
    today = ql.Date(15, ql.November, 2024)
    ql.Settings.instance().evaluationDate = today
    days = int(round(365 * p["maturity"]))
    maturity = today + days
    proc = process(today, p["spot"], p["rate"], p["vol"])
    payoff = ql.PlainVanillaPayoff(ql.Option.Put, p["strike"])
    calibration = args.calibration if args.calibration is not None else args.samples
    runs = []
    for name, degree in parse_basis(args.basis):
        option = ql.VanillaOption(payoff, ql.AmericanExercise(today, maturity))
        option.setPricingEngine(
            ql.MCAmericanEngine(
                proc,
                "PseudoRandom",
                timeSteps=p["dates"],
                antitheticVariate=True,
                requiredSamples=args.samples,
                seed=args.seed,
                polynomOrder=degree,
                polynomType=BASES[name],
                nCalibrationSamples=calibration,
            )
        )
        price, seconds, cpu = timed_npv(option)
        paths = 2 * args.samples
        training = 2 * calibration
        runs.append(
            {
                "basis": name,
                "degree": degree,
                "price": price,
                "std_error": error_estimate(option),
                "seconds": seconds,
                "cpu_seconds": cpu,
                "paths": paths,
                "training_paths": training,
                "path_steps": (paths + training) * p["dates"],
            }
        )
        print(f"quantlib ls2001 {name} {degree}: {price:.6f} in {seconds:.2f} s", file=sys.stderr)
    out = {
        "engine": "quantlib",
        "quantlib_version": ql.__version__,
        "case": "ls2001",
        "settings": {
            "traits": "PseudoRandom",
            "antithetic": True,
            "time_steps": p["dates"],
            "samples": args.samples,
            "calibration_samples": calibration,
            "seed": args.seed,
            **p,
        },
        "known_value": BERMUDAN_FD_LS2001,
        "runs": runs,
    }
    if args.fd_grid > 0:
        fd_b, _, _ = fd_value(proc, payoff, ql.BermudanExercise(bermudan_dates(today, days, p["dates"])), args.fd_grid)
        fd_a, _, _ = fd_value(proc, payoff, ql.AmericanExercise(today, maturity), args.fd_grid)
        out["fd"] = {"grid": args.fd_grid, "bermudan": fd_b, "american": fd_a}
    return out


def parse_date(text):
    d = datetime.datetime.strptime(text.strip(), "%m/%d/%Y").date()
    return ql.Date(d.day, d.month, d.year)


def read_csv(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [r for r in csv.reader(f) if any(c.strip() for c in r)]
    if not rows:
        raise SystemExit(f"{path}: empty file")
    header = [c.strip() for c in rows[0]]
    if [h.lower() for h in header[: len(CSV_COLUMNS)]] != [c.lower() for c in CSV_COLUMNS]:
        raise SystemExit(f"{path}: header must be {','.join(CSV_COLUMNS)}")
    return [dict(zip(CSV_COLUMNS, (c.strip() for c in r))) for r in rows[1:]]


def case_csv(args):
    if not args.csv:
        raise SystemExit("--case csv needs --csv FILE")
    rows = read_csv(args.csv)
    w = WORKSHOP
    options = []
    mc_total = 0.0
    mc_cpu = 0.0
    fd_total = 0.0
    for row in rows:
        today = parse_date(row["todaysDate"])
        settlement = parse_date(row["settlementDate"])
        maturity = parse_date(row["maturityDate"])
        ql.Settings.instance().evaluationDate = today
        kind = row["optionType"].lower()
        if kind not in ("put", "call"):
            raise SystemExit(f"row {row['id']}: optionType must be Put or Call")
        payoff = ql.PlainVanillaPayoff(ql.Option.Put if kind == "put" else ql.Option.Call, float(row["strike"]))
        proc = process(settlement, float(row["underlying"]), float(row["riskFreeRate"]), float(row["volatility"]))
        days = maturity - settlement

        option = ql.VanillaOption(payoff, ql.AmericanExercise(settlement, maturity))
        option.setPricingEngine(
            ql.MCAmericanEngine(
                proc,
                w["traits"],
                timeSteps=w["time_steps"],
                antitheticVariate=w["antithetic"],
                requiredTolerance=w["absolute_tolerance"],
                seed=w["seed"],
                polynomOrder=w["degree"],
                polynomType=BASES[w["basis"]],
                nCalibrationSamples=w["calibration_samples"],
            )
        )
        price, seconds, cpu = timed_npv(option)
        mc_total += seconds
        mc_cpu += cpu
        entry = {
            "id": row["id"],
            "price": price,
            "std_error": error_estimate(option),
            "seconds": seconds,
            "cpu_seconds": cpu,
        }
        if args.fd_grid > 0:
            fd_a, t_a, _ = fd_value(proc, payoff, ql.AmericanExercise(settlement, maturity), args.fd_grid)
            steps = max(args.min_steps, math.ceil(days * args.steps_per_year / 365))
            # pathgrid also lets the holder exercise today, as American exercise does.
            dates = [settlement] + bermudan_dates(settlement, days, steps)
            fd_b, t_b, _ = fd_value(proc, payoff, ql.BermudanExercise(dates), args.fd_grid)
            fd_total += t_a + t_b
            entry["fd"] = fd_a
            entry["fd_bermudan"] = fd_b
        options.append(entry)
    print(f"quantlib csv: {len(options)} options in {mc_total:.1f} s (+ {fd_total:.1f} s FD)", file=sys.stderr)
    return {
        "engine": "quantlib",
        "quantlib_version": ql.__version__,
        "case": "csv",
        "csv": args.csv,
        "settings": {
            **w,
            "fd_grid": args.fd_grid,
            "fd_bermudan_steps_per_year": args.steps_per_year,
            "fd_bermudan_min_steps": args.min_steps,
        },
        "options": options,
        "seconds": mc_total,
        "cpu_seconds": mc_cpu,
        "fd_seconds": fd_total,
    }


def case_european(args):
    p = LS2001
    today = ql.Date(15, ql.November, 2024)
    ql.Settings.instance().evaluationDate = today
    maturity = today + int(round(365 * p["maturity"]))
    proc = process(today, p["spot"], p["rate"], p["vol"])
    payoff = ql.PlainVanillaPayoff(ql.Option.Put, p["strike"])
    option = ql.VanillaOption(payoff, ql.EuropeanExercise(maturity))
    option.setPricingEngine(ql.AnalyticEuropeanEngine(proc))
    analytic = option.NPV()
    option = ql.VanillaOption(payoff, ql.EuropeanExercise(maturity))
    option.setPricingEngine(
        ql.MCEuropeanEngine(
            proc, "PseudoRandom", timeSteps=1, antitheticVariate=True, requiredSamples=args.samples, seed=args.seed
        )
    )
    price, seconds, cpu = timed_npv(option)
    paths = 2 * args.samples
    return {
        "engine": "quantlib",
        "quantlib_version": ql.__version__,
        "case": "european",
        "settings": {
            "traits": "PseudoRandom",
            "antithetic": True,
            "time_steps": 1,
            "samples": args.samples,
            "seed": args.seed,
            **p,
        },
        "known_value": analytic,
        "runs": [
            {
                "basis": None,
                "degree": None,
                "price": price,
                "std_error": error_estimate(option),
                "seconds": seconds,
                "cpu_seconds": cpu,
                "paths": paths,
                "training_paths": 0,
                "path_steps": paths,
            }
        ],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", choices=["ls2001", "csv", "european"], required=True)
    ap.add_argument("--samples", type=int, default=50000, help="QuantLib samples (antithetic pairs)")
    ap.add_argument("--calibration", type=int, default=None, help="LSM calibration samples (default: --samples)")
    ap.add_argument(
        "--basis",
        default="laguerre:3,monomial:2,monomial:3",
        help="comma-separated name:degree list for ls2001 (one run each)",
    )
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--csv", help="workshop-format CSV for --case csv")
    ap.add_argument("--fd-grid", type=int, default=800, help="FD time and space steps (0: no FD)")
    ap.add_argument("--steps-per-year", type=int, default=50, help="Bermudan FD reference: dates per year")
    ap.add_argument("--min-steps", type=int, default=10, help="Bermudan FD reference: fewest dates")
    args = ap.parse_args()
    if args.samples < 1:
        raise SystemExit("--samples must be at least 1")
    out = {"ls2001": case_ls2001, "csv": case_csv, "european": case_european}[args.case](args)
    json.dump(out, sys.stdout, allow_nan=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
