"""``python -m hub.sandbox``: serve a sandbox world until Ctrl-C (the CLI wraps the same call)."""

from __future__ import annotations

from hub.sandbox.serve import World, start_sandbox


def main(argv: list[str] | None = None) -> None:
    """``python -m hub.sandbox``: serve a world until Ctrl-C, printing how to connect."""
    import argparse
    import json
    import time

    from hub.sandbox.world import WorldConfig

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--contacts", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hubspot-port", type=int, default=0)
    ap.add_argument("--salesforce-port", type=int, default=0)
    args = ap.parse_args(argv)
    world = World(WorldConfig(n_contacts=args.contacts, seed=args.seed))
    with start_sandbox(world, args.hubspot_port, args.salesforce_port) as sb:
        print(
            json.dumps(
                {
                    k: getattr(sb, k)
                    for k in (
                        "hubspot_url",
                        "hubspot_token",
                        "salesforce_url",
                        "salesforce_domain",
                        "salesforce_username",
                        "salesforce_password",
                        "salesforce_security_token",
                        "ca_cert_path",
                    )
                },
                indent=2,
            ),
            flush=True,
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
