"""Contextual bandit policies behind one interface (:class:`Policy`)."""

from .apprentice import Apprentice
from .base import Choice, Policy, load_bundle, save_bundle
from .beta import BetaBernoulli
from .linear import LinearThompson, LinUCB
from .regressor import EpsilonGreedy, Softmax
from .shared import SharedLinearThompson

__all__ = [
    "Apprentice",
    "BetaBernoulli",
    "Choice",
    "EpsilonGreedy",
    "LinUCB",
    "LinearThompson",
    "Policy",
    "SharedLinearThompson",
    "Softmax",
    "load_bundle",
    "save_bundle",
]
