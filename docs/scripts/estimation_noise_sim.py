"""docs/estimation.md §4 (est22): the error of the noise shrinkage's lambda at n = 120 on simulated
AR(1) signals in white noise, by the floor under phi (``EstimateParams.noise_min_persistence``).

Run ``python docs/scripts/estimation_noise_sim.py`` (about a minute): it prints the RMSE of
lambda against the true signal share per case and on average, and the days on which a rolling
lambda jumps by 0.5 or more on an MA(1) and on an AR(1) at phi 0.3.
"""

from __future__ import annotations

import numpy as np

from factorlab.northbound.estimation import estimator as E

N, REPS = 120, 2000
FLOORS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)


def ar(rng: np.random.Generator, phi: float, size: int) -> np.ndarray:
    """A unit-variance AR(1) series (200 burn-in draws)."""
    e = rng.normal(scale=np.sqrt(1 - phi * phi), size=size + 200)
    s = np.zeros(size + 200)
    for t in range(1, size + 200):
        s[t] = phi * s[t - 1] + e[t]
    return s[200:]


def main() -> None:
    rng = np.random.default_rng(20261203)
    print("phi share | RMSE of lambda by floor", FLOORS)
    total = np.zeros(len(FLOORS))
    for phi in (0.2, 0.3, 0.5, 0.8, 0.95):
        for share in (1.0, 0.5, 0.25):
            lam = np.zeros((REPS, len(FLOORS)))
            for r in range(REPS):
                h = ar(rng, phi, N) * np.sqrt(share) + rng.normal(size=N) * np.sqrt(1 - share)
                lam[r] = [E._signal_share(h, f) for f in FLOORS]
            rmse = np.sqrt(((lam - share) ** 2).mean(axis=0))
            total += rmse
            print(phi, share, rmse.round(3), "zeros", (lam == 0).mean(axis=0).round(2))
    print("mean RMSE", (total / 15).round(3))
    ar03 = ar(rng, 0.3, 3000)  # drawn before the MA(1)'s noise, as when the doc was written
    e = rng.normal(size=3001)
    for name, x in (("MA(1)", e[1:] + 0.5 * e[:-1]), ("AR(1) 0.3", ar03)):
        lam = np.array(
            [[E._signal_share(x[t - N : t], f) for f in FLOORS] for t in range(N, x.size)]
        )
        jumps = (np.abs(np.diff(lam, axis=0)) >= 0.5).sum(axis=0)
        print(name, "rolling days", lam.shape[0], "jumps >= 0.5:", jumps)


if __name__ == "__main__":
    main()
