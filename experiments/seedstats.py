"""Statistics over seeds, with the Python standard library only: mean, sample standard
deviation, and Welch's two-sample t-test (unequal variances) with its two-sided p-value.

The t distribution's CDF comes from the regularized incomplete beta function,
    P(|T| > t) = I_{df / (df + t^2)}(df / 2, 1 / 2),
evaluated by its continued fraction (the modified Lentz method). tests/experiments/
seedstats_test.py checks it against closed forms and published values.
"""

import math

ALPHA = 0.05  # significance level of every stated ordering


def mean(xs):
    return sum(xs) / len(xs)


def sample_std(xs):
    """Sample standard deviation (n - 1 in the denominator); None for fewer than 2 values."""
    if len(xs) < 2:
        return None
    m = mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def _beta_continued_fraction(a, b, x):
    """The continued fraction of I_x(a, b) (Numerical Recipes' betacf), by modified Lentz."""
    tiny, eps = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10000):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            return h
    raise ArithmeticError(f"incomplete beta: no convergence for a={a}, b={b}, x={x}")


def betainc(a, b, x):
    """The regularized incomplete beta function I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if not (a > 0 and b > 0 and 0.0 <= x <= 1.0):
        raise ValueError(f"betainc needs a, b > 0 and 0 <= x <= 1, got {a}, {b}, {x}")
    if x in (0.0, 1.0):
        return x
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    # the fraction converges fast for x below the mean a / (a + b); use symmetry above it
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, 1.0 - x) / b


def t_cdf(t, df):
    """P(T <= t) for Student's t with df > 0 degrees of freedom (df need not be whole)."""
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def welch(a, b):
    """Welch's t-test of mean(a) vs mean(b): (t, df, two-sided p). None when either sample
    has fewer than 2 values or both have zero variance (the test is undefined there)."""
    if len(a) < 2 or len(b) < 2:
        return None
    va, vb = sample_std(a) ** 2 / len(a), sample_std(b) ** 2 / len(b)
    if va + vb == 0.0:
        return None
    t = (mean(a) - mean(b)) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return t, df, 2.0 * t_cdf(-abs(t), df)


def ordering(name_a, a, name_b, b, digits=2):
    """The statement "name_a < name_b" about two samples (lower is better, e.g. test error):
    a dict with holds (mean(a) < mean(b)), p (Welch, two-sided; None when undefined),
    significant (holds and p < ALPHA) and text, e.g.
    "BC < SR: holds (9.31 vs 10.52), significant (Welch p = 0.003)"."""
    ma, mb = mean(a), mean(b)
    test = welch(a, b)
    p = None if test is None else test[2]
    holds = ma < mb
    if p is None:
        verdict = "significance not testable (fewer than 2 seeds, or no spread)"
    elif p < ALPHA:
        verdict = (f"significant (Welch p = {p:.2g})" if holds
                   else f"the reverse order is significant (Welch p = {p:.2g})")
    else:
        verdict = f"the difference is NOT significant (Welch p = {p:.2g})"
    text = (f"{name_a} < {name_b}: {'holds' if holds else 'does NOT hold'} "
            f"({ma:.{digits}f} vs {mb:.{digits}f}), {verdict}")
    return {"holds": holds, "p": p, "significant": holds and p is not None and p < ALPHA,
            "text": text}


def mean_std_text(xs, digits=2):
    """'9.28 ± 0.15' (sample std), or just the value for a single seed."""
    s = sample_std(xs)
    return f"{mean(xs):.{digits}f}" if s is None else f"{mean(xs):.{digits}f} ± {s:.{digits}f}"
