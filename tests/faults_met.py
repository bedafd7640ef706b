"""Every fault a test queued on a sandbox was met: a queued status or lost answer that no request
took means the test never exercised what it names (a test once patched the sandbox's class after
its routes were bound, and no answer was ever lost)."""

from __future__ import annotations

from hub.sandbox.serve import SandboxHandle


def unmet_faults(sb: SandboxHandle) -> dict[str, dict[str, object]]:
    """The queued faults no request took, per vendor (empty: all met)."""
    out: dict[str, dict[str, object]] = {}
    for vendor, faults in (("hubspot", sb.hubspot_faults), ("salesforce", sb.salesforce_faults)):
        left = {
            k: v
            for k, v in (("statuses", faults.statuses), ("lost", faults.lost), ("burst_429", faults.burst_429))
            if v
        }
        if left:
            out[vendor] = left
    return out
