#!/usr/bin/env python3
"""Makes pathgrid's own table of American (and Bermudan) reference values with QuantLib's
finite-difference engine, and the random option sets they belong to.

Writes, relative to the repository root:
  tests/reference/american_fd.json   every case with its FD value(s) and FD error estimate
  tests/reference/workshop-100.csv   the 100 workshop-format options of the "workshop" set

Sets (all seeded, so a re-run gives the same options):
  workshop   100 random puts and calls like the AWS workshop's: S 5-100, K within 10% of S,
             r 0.01-0.15, sigma 0.1-0.4, maturities of 7 to 91 days, no dividends; American
             exercise from settlement to maturity, T = Actual/365 days.
  ls2001     the 20 puts of Longstaff & Schwartz (2001), Table 1 (K 40, r 0.06): American, and
             Bermudan on 50 equally spaced dates a year (the dates LS2001's own LSM column used).
  dividends  40 random American puts and calls with dividend yields: S 80-120, K 80-120,
             r 0-0.1, q 0-0.08, sigma 0.1-0.6, T 0.1-2 years.

FD settings: FdBlackScholesVanillaEngine (Crank-Nicolson with damping steps, QuantLib's default
scheme) on a grid of GRID time x GRID space steps. The FD error estimate of each value is the
difference from the same engine on half that grid (first-order-safe: the scheme converges at
second order, so the half-grid difference overstates the error), and never less than 1e-4.

Bermudan dates that are not whole days (50 a year = every 7.3 days) are exact here: the option is
priced in a rescaled clock in which each exercise interval is exactly 7 days. The value of an
option under Black-Scholes is unchanged when time is scaled by c and r, q, sigma^2 by 1/c.

Usage:  pip install QuantLib==1.44 && python3 bench/make_reference.py [--grid 2000]
"""

import argparse
import datetime
import json
import os
import random
import sys

import QuantLib as ql

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
TODAY = ql.Date(15, 11, 2024)


def fd_price(kind, spot, strike, rate, div, vol, days, grid, dates=None):
    """FD value of an American (dates None) or Bermudan option maturing `days` from TODAY."""
    ql.Settings.instance().evaluationDate = TODAY
    dc = ql.Actual365Fixed()
    proc = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(spot)),
        ql.YieldTermStructureHandle(ql.FlatForward(TODAY, div, dc)),
        ql.YieldTermStructureHandle(ql.FlatForward(TODAY, rate, dc)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(TODAY, ql.NullCalendar(), vol, dc)),
    )
    payoff = ql.PlainVanillaPayoff(ql.Option.Put if kind == "put" else ql.Option.Call, strike)
    if dates is None:
        exercise = ql.AmericanExercise(TODAY, TODAY + days)
    else:
        exercise = ql.BermudanExercise([TODAY + d for d in dates])
    option = ql.VanillaOption(payoff, exercise)
    option.setPricingEngine(ql.FdBlackScholesVanillaEngine(proc, grid, grid))
    return option.NPV()


def with_error(f, grid):
    fine = f(grid)
    coarse = f(grid // 2)
    return fine, max(abs(fine - coarse), 1e-4)


def bermudan_rescaled(kind, spot, strike, rate, div, vol, years, per_year, grid):
    """Bermudan on `per_year` equally spaced dates a year, exactly, by rescaling time."""
    n = round(years * per_year)
    days = 7 * n  # each exercise interval is 7 days in the rescaled clock
    c = (days / 365.0) / years  # rescaled years per true year
    return with_error(
        lambda g: fd_price(kind, spot, strike, rate / c, div / c, vol / c**0.5, days, g, [7 * (k + 1) for k in range(n)]),
        grid,
    )


def american_years(kind, spot, strike, rate, div, vol, years, grid):
    """American with a maturity in years that need not be whole days, by rescaling time."""
    days = max(1, round(years * 365))
    c = (days / 365.0) / years
    return with_error(lambda g: fd_price(kind, spot, strike, rate / c, div / c, vol / c**0.5, days, g), grid)


def workshop_set(rng, grid):
    settlement = datetime.date(2024, 11, 17)
    rows, cases = [], []
    for i in range(100):
        kind = rng.choice(["put", "call"])
        spot = round(rng.uniform(5, 100), 2)
        strike = round(spot * rng.uniform(0.9, 1.1), 1 if spot < 20 else 0)
        rate = round(rng.uniform(0.01, 0.15), 4)
        vol = round(rng.uniform(0.1, 0.4), 3)
        days = rng.randint(7, 91)
        maturity = settlement + datetime.timedelta(days=days)
        rid = f"ws-{i + 1:03d}"
        rows.append([rid, "11/15/2024", settlement.strftime("%m/%d/%Y"), kind.capitalize(), f"{spot}",
                     f"{strike}", f"{rate}", f"{vol}", maturity.strftime("%m/%d/%Y")])
        fd, err = with_error(lambda g: fd_price(kind, spot, strike, rate, 0.0, vol, days, g), grid)
        cases.append({"id": rid, "type": kind, "spot": spot, "strike": strike, "rate": rate, "dividend": 0.0,
                      "vol": vol, "maturity": days / 365.0, "american_fd": fd, "american_fd_error": err})
        progress("workshop", i + 1, 100)
    return rows, cases


def ls2001_set(grid):
    cases = []
    for spot in (36, 38, 40, 42, 44):
        for vol in (0.2, 0.4):
            for years in (1, 2):
                a, ea = american_years("put", spot, 40.0, 0.06, 0.0, vol, years, grid)
                b, eb = bermudan_rescaled("put", spot, 40.0, 0.06, 0.0, vol, years, 50, grid)
                cases.append({"id": f"ls-{spot}-{vol}-{years}", "type": "put", "spot": float(spot), "strike": 40.0,
                              "rate": 0.06, "dividend": 0.0, "vol": vol, "maturity": float(years),
                              "american_fd": a, "american_fd_error": ea,
                              "bermudan_steps": 50 * years, "bermudan_fd": b, "bermudan_fd_error": eb})
                progress("ls2001", len(cases), 20)
    return cases


def dividend_set(rng, grid):
    cases = []
    for i in range(40):
        kind = rng.choice(["put", "call"])
        spot = round(rng.uniform(80, 120), 2)
        strike = round(rng.uniform(80, 120), 0)
        rate = round(rng.uniform(0.0, 0.1), 4)
        div = round(rng.uniform(0.0, 0.08), 4)
        vol = round(rng.uniform(0.1, 0.6), 3)
        years = round(rng.uniform(0.1, 2.0), 2)
        a, ea = american_years(kind, spot, strike, rate, div, vol, years, grid)
        cases.append({"id": f"div-{i + 1:02d}", "type": kind, "spot": spot, "strike": strike, "rate": rate,
                      "dividend": div, "vol": vol, "maturity": years, "american_fd": a, "american_fd_error": ea})
        progress("dividends", i + 1, 40)
    return cases


def progress(name, done, total):
    print(f"\r{name}: {done}/{total}", end="\n" if done == total else "", file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grid", type=int, default=2000, help="FD time and space steps (default 2000)")
    args = ap.parse_args()
    rng = random.Random(20261201)
    rows, workshop = workshop_set(rng, args.grid)
    ls = ls2001_set(args.grid)
    divs = dividend_set(rng, args.grid)
    out = {
        "source": "bench/make_reference.py: QuantLib " + ql.__version__ + " FdBlackScholesVanillaEngine",
        "fd_grid": args.grid,
        "fd_error": "difference from the same engine on half the grid, at least 1e-4",
        "sets": {"workshop": workshop, "ls2001": ls, "dividends": divs},
    }
    ref = os.path.join(ROOT, "tests", "reference")
    os.makedirs(ref, exist_ok=True)
    with open(os.path.join(ref, "american_fd.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    with open(os.path.join(ref, "workshop-100.csv"), "w", newline="") as f:
        f.write("id,todaysDate,settlementDate,optionType,underlying,strike,riskFreeRate,volatility,maturityDate\n")
        for r in rows:
            f.write(",".join(r) + "\n")
    print(f"wrote {len(workshop)} + {len(ls)} + {len(divs)} cases to tests/reference/", file=sys.stderr)


if __name__ == "__main__":
    main()
