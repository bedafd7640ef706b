"""`hub sandbox serve`: the simulated market's HubSpot- and Salesforce-compatible APIs on localhost."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from hub.cli.common import fail, out

sandbox_app = typer.Typer(
    help="The simulated market behind HubSpot- and Salesforce-compatible APIs.",
    no_args_is_help=True,
    add_completion=False,  # as `hub` itself: `python -m hub.sandbox` runs this app alone
)


@sandbox_app.command("serve")
def sandbox_serve(
    contacts: Annotated[int, typer.Option(min=10)] = 2000,
    seed: int = 0,
    hubspot_port: int = 0,
    salesforce_port: int = 0,
    day_seconds: Annotated[
        float, typer.Option(min=0, help="Advance one simulated day every N seconds (0: never, the market stays still).")
    ] = 60.0,
) -> None:
    """Serve both sandbox APIs on localhost until Ctrl-C, on the wall clock.

    Prints their URLs, credentials and how to point a hub at them."""
    import time

    from hub.sandbox.serve import how_to_connect, served_world, start_sandbox

    _check_ports({"--hubspot-port": hubspot_port, "--salesforce-port": salesforce_port})
    world = served_world(contacts, seed)
    with start_sandbox(world, hubspot_port, salesforce_port) as sb:
        table = Table("what", "value", title="Sandbox running (sandbox credentials, not secrets)")
        for label, value in (
            ("HubSpot base URL", sb.hubspot_url),
            ("HubSpot private-app token", sb.hubspot_token),
            ("Salesforce instance", sb.salesforce_url),
            ("Salesforce login domain (simple-salesforce domain=)", sb.salesforce_domain),
            ("Salesforce username", sb.salesforce_username),
            ("Salesforce password", sb.salesforce_password),
            ("Salesforce security token", sb.salesforce_security_token),
            ("CA certificate to trust", sb.ca_cert_path),
        ):
            table.add_row(label, value)
        out.print(table)
        out.print(
            how_to_connect(sb, day_seconds), markup=False, highlight=False, soft_wrap=True
        )  # YAML to copy: unwrapped
        out.print("Ctrl-C stops it.")
        try:
            while True:
                if day_seconds > 0:
                    time.sleep(day_seconds)
                    world.advance_days(1)
                else:
                    time.sleep(3600)
        except KeyboardInterrupt:
            pass


def _check_ports(ports: dict[str, int]) -> None:
    """Exit 1 naming the option whose port is taken (a sandbox still running), before the world
    is built, as `hub serve` does for its --port; two options naming one port are a usage error
    (2). 0 asks for a free port and is never taken."""
    import errno
    import socket

    given = [p for p in ports.values() if p]
    if len(given) != len(set(given)):
        raise fail("--hubspot-port and --salesforce-port name the same port: give two, or 0 for a free one.", 2)
    for option, port in ports.items():
        if not port:
            continue
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
            try:
                probe.bind(("127.0.0.1", port))
            except OSError as exc:
                why = "is in use (another hub sandbox serve?)" if exc.errno == errno.EADDRINUSE else f"({exc})"
                raise fail(f"127.0.0.1:{port} {why}: pick another with {option}, or 0 for a free one.", 1) from None
