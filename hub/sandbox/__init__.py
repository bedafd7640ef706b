"""The embedded default world: a simulated B2B market behind fake HubSpot and Salesforce APIs.

No accounts, no external services. ``World`` holds the market and both CRMs' state;
``start_sandbox`` serves them over HTTP(S) for the unmodified vendor SDKs.
"""

from hub.sandbox.catalog import ACTION_IDS, CATALOG, CatalogAction, get_action
from hub.sandbox.ground_truth import RegimeShift, RewardWeights
from hub.sandbox.serve import SandboxHandle, start_sandbox
from hub.sandbox.world import World, WorldConfig

__all__ = [
    "ACTION_IDS",
    "CATALOG",
    "CatalogAction",
    "RegimeShift",
    "RewardWeights",
    "SandboxHandle",
    "World",
    "WorldConfig",
    "get_action",
    "start_sandbox",
]
