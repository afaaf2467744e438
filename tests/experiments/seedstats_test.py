#!/usr/bin/env python3
"""experiments/seedstats.py against values known independently: closed forms of the
regularized incomplete beta function and of Student's t CDF (df = 1, 2, 3), printed t-table
quantiles, and the worked example of Welch's test on Wikipedia ("Welch's t-test", example 1:
t = -2.46, df = 24.9, p = 0.021). Exits non-zero at the first failed check."""

import math
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(os.environ["QTRAIN_SOURCE_ROOT"]) / "experiments"))
import seedstats as st  # noqa: E402


def close(got, want, tol, what):
    if not abs(got - want) <= tol:
        sys.exit(f"FAILED: {what}: got {got!r}, want {want!r} (tolerance {tol})")
    print(f"ok: {what} = {got:.12g}")


def t_cdf_closed_form(t, df):
    """Student's t CDF for df = 1, 2, 3 in closed form."""
    if df == 1:
        return 0.5 + math.atan(t) / math.pi
    if df == 2:
        return 0.5 + t / (2.0 * math.sqrt(2.0 + t * t))
    u = t / math.sqrt(3.0)
    return 0.5 + (u / (1.0 + u * u) + math.atan(u)) / math.pi


def main():
    # I_x(a, 1) = x^a, I_x(1, b) = 1 - (1 - x)^b, I_0.5(a, a) = 0.5, I_0.5(2, 3) = 11/16
    for a, x in ((0.5, 0.3), (3.0, 0.7), (7.5, 0.95)):
        close(st.betainc(a, 1.0, x), x ** a, 1e-12, f"I_{x}({a}, 1)")
        close(st.betainc(1.0, a, x), 1.0 - (1.0 - x) ** a, 1e-12, f"I_{x}(1, {a})")
    for a in (0.5, 2.0, 40.0):
        close(st.betainc(a, a, 0.5), 0.5, 1e-12, f"I_0.5({a}, {a})")
    close(st.betainc(2.0, 3.0, 0.5), 11.0 / 16.0, 1e-12, "I_0.5(2, 3)")
    close(st.betainc(2.0, 3.0, 0.0), 0.0, 0.0, "I_0(2, 3)")
    close(st.betainc(2.0, 3.0, 1.0), 1.0, 0.0, "I_1(2, 3)")
    for df in (1, 2, 3):
        for t in (-12.0, -2.5, -0.3, 0.0, 0.7, 4.0):
            close(st.t_cdf(t, df), t_cdf_closed_form(t, df), 1e-12, f"t_cdf({t}, {df})")
    # two-sided 5% critical values of printed t tables: P(T > t) = 0.025
    for df, t in ((5, 2.570582), (10, 2.228139), (30, 2.042272), (1000, 1.962339)):
        close(1.0 - st.t_cdf(t, df), 0.025, 2e-7, f"upper tail at the 2.5% quantile, df {df}")
    close(st.sample_std([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]), math.sqrt(32.0 / 7.0), 1e-12,
          "sample std (n - 1)")
    if st.sample_std([3.0]) is not None:
        sys.exit("FAILED: the std of one value must be None")
    a = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4]
    b = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4]
    t, df, p = st.welch(a, b)
    close(t, -2.46, 0.005, "Welch t, Wikipedia example 1")
    close(df, 24.99, 0.01, "Welch df (Wikipedia prints 24.9)")
    close(p, 0.021, 0.0005, "Welch two-sided p")
    o = st.ordering("A", a, "B", b)
    if not (o["holds"] and o["significant"] and "significant (Welch p = 0.021)" in o["text"]):
        sys.exit(f"FAILED: ordering A < B: {o}")
    o = st.ordering("B", b, "A", a)
    if o["holds"] or o["significant"]:
        sys.exit(f"FAILED: ordering B < A must not hold: {o}")
    if st.welch([1.0, 1.0], [2.0, 2.0]) is not None or st.welch([1.0], [2.0, 3.0]) is not None:
        sys.exit("FAILED: Welch's test must be undefined without spread or with one value")
    print("ok: all seedstats checks")


if __name__ == "__main__":
    main()
