"""Do monitoring alerts fire when they should, and only then? Measured on `hub demo` runs.

- healthy: demo runs on several seeds; every alert raised is a false alarm;
- regime shift: the sandbox market's topic appeal changes on a day (the shift
  bench/decision_quality.py uses); days from the shift to the first alert raised;
- broken feed: from a day on, the sandbox stops writing page views to the CRM (a tracking
  script removed); days from the break to the first drift alert (the demo's store holds no
  page-view activities from the sandbox, so the hub cannot see this break);
- broken email feed: from a day on, HubSpot records no email opens or clicks (the tracking
  pixel and links broke); days to the first alert;
- dead connector: from a day on, the HubSpot portal refuses the hub's token (the app was
  uninstalled): every sync fails; the right alert is one ``sync`` alert for ``hubspot``;
- silent connector: from a day on, the HubSpot portal records nothing new (syncs succeed
  and return nothing). Activity counts cannot tell this from a quiet market (healthy runs
  have two-day lulls with no Salesforce activity at all), so the right alert is the symptom:
  the ``email_open_rate`` drift alert.

"right" in the output: the first alert after the change is of the kind the change should
raise (``sync`` for the dead connector, ``drift`` for the feeds, any for the regime shift).

Usage: python bench/alerts_quality.py [--contacts 300] [--days 21] [--seeds 0 1 2]
Prints one line per run and a JSON summary. Timings are not the point; each run takes about
as long as `hub demo` of that size.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from sqlalchemy import select

from hub.config import load_settings
from hub.demo import run_demo
from hub.sandbox.clock import DEFAULT_START
from hub.sandbox.ground_truth import RegimeShift
from hub.sandbox.world import WorldConfig
from hub.store import Store
from hub.store.contacts import aware
from hub.store.schema import alerts


def raised(workdir: Path) -> list[tuple[float, str, str, str]]:
    """(day since the demo start, kind, subject, message) of every alert raised."""
    store = Store(load_settings(workdir / "hub.yaml").store_url)
    with store.connect() as conn:
        rows = conn.execute(
            select(alerts.c.raised_at, alerts.c.kind, alerts.c.subject, alerts.c.message).order_by(alerts.c.id)
        ).all()
    store.dispose()
    return [((aware(r[0]) - DEFAULT_START).total_seconds() / 86400, r[1], r[2], r[3]) for r in rows]


def run(kind: str, seed: int, contacts: int, days: int, change_day: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cfg = WorldConfig(n_contacts=contacts, seed=seed, realtime_clock=False)
        hook = None
        if kind == "regime_shift":
            cfg.regime_shift = RegimeShift(day=change_day)
        elif kind == "broken_feed":

            def hook(world, day):  # noqa: ANN001
                world.config.write_page_views = day < change_day

        elif kind == "broken_email_feed":

            class Broken(list):
                """Drops open and click events, as a broken tracking pixel would."""

                on = False

                def append(self, event):  # noqa: ANN001
                    if not (self.on and event.get("type") in ("OPEN", "CLICK")):
                        super().append(event)

            def hook(world, day):  # noqa: ANN001
                if not isinstance(world.hubspot.email_events, Broken):
                    world.hubspot.email_events = Broken(world.hubspot.email_events)
                world.hubspot.email_events.on = day >= change_day

        elif kind == "silent_connector":

            class Silent(list):
                """Drops every append once on: the portal records nothing new."""

                on = False

                def append(self, item):  # noqa: ANN001
                    if not self.on:
                        super().append(item)

            def hook(world, day):  # noqa: ANN001
                hs = world.hubspot
                if not isinstance(hs.email_events, Silent):
                    hs.email_events, hs.form_submissions = Silent(hs.email_events), Silent(hs.form_submissions)
                    hs._add_engagement = hs.add_engagement
                hs.email_events.on = hs.form_submissions.on = day >= change_day
                hs.add_engagement = (lambda *a, **k: "0") if day >= change_day else hs._add_engagement

        handles = []

        def on_sandbox(sb):  # noqa: ANN001
            handles.append(sb)

        if kind == "dead_connector":

            def hook(world, day):  # noqa: ANN001
                if day == change_day:
                    handles[0].hubspot.token = "pat-revoked"  # every call now answers 401

        run_demo(
            contacts=contacts,
            seed=seed,
            workdir=work,
            days=days,
            world_config=cfg,
            before_day=hook,
            on_sandbox=on_sandbox,
        )
        found = raised(work)
    after = [f for f in found if f[0] >= change_day]
    out = {"kind": kind, "seed": seed, "alerts": len(found), "found": [f[1:3] for f in found]}
    if kind != "healthy":
        out["days_to_first_alert"] = round(after[0][0] - change_day, 1) if after else None
        out["before_change"] = len(found) - len(after)
        want = "sync" if kind == "dead_connector" else "drift"
        out["right"] = bool(after) and (kind == "regime_shift" or after[0][1] == want)
        out["alerts_after_change"] = len(after)
    print(json.dumps(out), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contacts", type=int, default=300)
    ap.add_argument("--days", type=int, default=21)
    ap.add_argument("--change-day", type=int, default=12)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument(
        "--kinds",
        nargs="+",
        default=["healthy", "broken_email_feed", "regime_shift", "dead_connector", "silent_connector"],
    )
    a = ap.parse_args()
    results = [run(k, s, a.contacts, a.days, a.change_day) for k in a.kinds for s in a.seeds]
    print(json.dumps({"contacts": a.contacts, "days": a.days, "runs": results}))


if __name__ == "__main__":
    main()
