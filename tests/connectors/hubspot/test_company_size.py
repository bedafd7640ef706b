"""A contact's company size as HubSpot keeps it: ``numemployees`` is a dropdown of ranges.

HubSpot defines the contact property "Number of Employees" as enumeration/select, not a
number (its contact properties as hull/hull-connectors records them; a portal's property dump in
hairsolutionsco/automations_hub lists it among the enumerations). Read as a number, every
contact's size was unknown, and with it the features and deal values that use it.
"""

from __future__ import annotations

from tests.connectors.hubspot.conftest import drain


def test_a_synced_contact_s_size_range_is_read_as_a_count_within_it(world, connector) -> None:
    items, _, _, _ = drain(connector.pull_contacts(None))
    ranges = {r["id"]: r["properties"].get("numemployees") for r in world.hubspot.records.values()}
    sized = [(c.company.employees, ranges[c.identities[0].external_id]) for c in items]
    sized = [(n, band) for n, band in sized if band]
    assert sized and {band for _, band in sized} >= {"1-10", "51-200"}
    for n, band in sized:
        low, _, high = band.rstrip("+").partition("-")
        assert n is not None and int(low) <= n <= int(high or low), (n, band)
