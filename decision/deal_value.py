"""What an opportunity is expected to close for, by what the CRM shows of the account: its
company size band. Learned from closed opportunities (won amounts, lost ones as 0).

Why: a deal's size grows steeply with the company (on the sandbox a 5,001+ account's deal is
about 17 times a 1-10 one's), so pricing every opportunity at the mean won amount makes a call
to a ten-person shop worth the same as one to an enterprise, and an engine that learns the
objective's points then wins less revenue per point than rules that call everyone in the funnel.
Per band, an opportunity is worth what opportunities of that band have closed for so far,
shrunk toward the mean over all bands where a band has closed few (``prior_closed``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: upper edges (employees) of the company size bands CRMs offer: 1-10, 11-50, 51-200,
#: 201-1,000, 1,001-5,000, 5,001+; unknown size is a band of its own (the last)
SIZE_EDGES = (10, 50, 200, 1000, 5000)
N_SIZE_BANDS = len(SIZE_EDGES) + 2


def size_band(employees: np.ndarray) -> np.ndarray:
    """Band index per row from an employee count; missing, zero or negative -> the last band.

    >>> size_band(np.array([1, 10, 11, 300, 7000, 0, np.nan])).tolist()
    [0, 0, 1, 3, 5, 6, 6]
    """
    e = np.asarray(employees, dtype=float)
    band = np.searchsorted(np.asarray(SIZE_EDGES, dtype=float), np.nan_to_num(e, nan=0.0), side="left")
    return np.where(np.isfinite(e) & (e > 0), band, N_SIZE_BANDS - 1).astype(np.intp)


@dataclass
class DealValues:
    """Mean won amount per closed opportunity, per band, shrunk toward the mean of all bands.

    >>> dv = DealValues(n_bands=2, prior_closed=1.0)
    >>> dv.close(np.array([0, 1, 1]), np.array([1_000.0, 30_000.0, 0.0]))
    >>> dv.mean_won(np.array([0, 1])).round(0).tolist()
    [5667.0, 13444.0]
    """

    n_bands: int = N_SIZE_BANDS
    #: pseudo-closures at the mean over all bands in each band's mean
    prior_closed: float = 10.0
    won: np.ndarray = field(init=False)  # summed won amounts per band
    closed: np.ndarray = field(init=False)  # closed opportunities (won and lost) per band

    def __post_init__(self) -> None:
        self.won, self.closed = np.zeros(self.n_bands), np.zeros(self.n_bands)

    def close(self, bands: np.ndarray, amounts: np.ndarray) -> None:
        """Closed opportunities: each one's band and won amount (0 for a lost one)."""
        b = np.asarray(bands, dtype=np.intp)
        np.add.at(self.won, b, np.asarray(amounts, dtype=float))
        np.add.at(self.closed, b, 1.0)

    def mean_won(self, bands: np.ndarray) -> np.ndarray:
        """Per row, the expected won amount of an opportunity in the row's band."""
        total = float(self.closed.sum())
        pooled = float(self.won.sum()) / total if total else 0.0
        per = (self.won + self.prior_closed * pooled) / (self.closed + self.prior_closed)
        return per[np.asarray(bands, dtype=np.intp)]

    def state(self) -> dict:
        return {"won": self.won.tolist(), "closed": self.closed.tolist()}

    def load_state(self, state: dict) -> None:
        won = np.asarray(state.get("won", []), dtype=float)
        if won.shape != self.won.shape:  # another set of bands: start over
            return
        self.won, self.closed = won, np.asarray(state["closed"], dtype=float)
