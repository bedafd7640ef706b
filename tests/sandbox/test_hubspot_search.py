"""The columnar fast path of search must agree with the general scan, filter for filter."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.sandbox.hubspot_server import HubSpotApp
from hub.sandbox.world import World

WORLD = World(n_contacts=400, seed=4)
WORLD.advance_days(3)
APP = HubSpotApp(WORLD, "t")
IDS = sorted(int(k) for k in WORLD.hubspot.records)
STAMPS = sorted(r["updatedAt"] for r in WORLD.hubspot.records.values())
TYPES = {k: v["type"] for k, v in WORLD.hubspot.properties.items()}
TYPES["hs_lastmodifieddate"] = "datetime"
# deals, a third of them edited in two bulk writes (one stamp each): the ties a sync walks by id
_OWNER = IDS[0]
DEAL_IDS = [int(WORLD.hubspot.add_deal(str(_OWNER), WORLD.clock.now_ms(), f"D{k}", 1.0)) for k in range(300)]
WORLD.hubspot.update_engagements("deals", [str(d) for d in DEAL_IDS[:60]], {"dealtype": "a"})
WORLD.hubspot.update_engagements("deals", [str(d) for d in DEAL_IDS[100:140]], {"dealtype": "b"})
DEAL_STAMPS = sorted({r["updatedAt"] for r in WORLD.hubspot.engagements["deals"].values()})

_value = st.one_of(st.sampled_from(IDS).map(str), st.sampled_from(STAMPS).map(str))
_filter = st.builds(
    lambda name, op, v, hi, vs: {
        "propertyName": name,
        "operator": op,
        "value": v,
        "highValue": hi,
        "values": vs,
    },
    st.sampled_from(["hs_object_id", "lastmodifieddate", "createdate"]),
    st.sampled_from(["EQ", "NEQ", "GT", "GTE", "LT", "LTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY"]),
    _value,
    _value,
    st.lists(_value, max_size=3),
)
_groups = st.lists(st.builds(lambda fs: {"filters": fs}, st.lists(_filter, min_size=1, max_size=3)), max_size=3)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    groups=_groups,
    sort=st.sampled_from(["hs_object_id", "lastmodifieddate", "createdate"]),
    desc=st.booleans(),
)
def test_fast_search_equals_scan(groups, sort, desc) -> None:  # noqa: ANN001
    lag = WORLD.clock.last_ms
    fast = WORLD.hubspot.index().search(groups, sort, desc, lag)
    slow = [r["id"] for r in APP._slow_search("contacts", groups, TYPES, lag, "", sort, desc)]
    assert fast is not None
    assert fast == slow


def test_other_properties_take_the_general_path() -> None:
    groups = [{"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}]}]
    assert WORLD.hubspot.index().search(groups, "hs_object_id", False, 2**62) is None


_deal_value = st.one_of(st.sampled_from(DEAL_IDS).map(str), st.sampled_from(DEAL_STAMPS).map(str))
_deal_filter = st.builds(
    lambda name, op, v: {"propertyName": name, "operator": op, "value": v},
    st.sampled_from(["hs_object_id", "hs_lastmodifieddate"]),
    st.sampled_from(["EQ", "GT", "GTE", "LT", "LTE"]),
    _deal_value,
)
_deal_groups = st.lists(
    st.builds(lambda fs: {"filters": fs}, st.lists(_deal_filter, min_size=1, max_size=2)), max_size=2
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(groups=_deal_groups, sort=st.sampled_from(["hs_object_id", "hs_lastmodifieddate"]), desc=st.booleans())
def test_fast_deal_search_equals_scan(groups, sort, desc) -> None:  # noqa: ANN001
    lag = WORLD.clock.last_ms
    fast = WORLD.hubspot.index("deals").search(groups, sort, desc, lag)
    slow = [r["id"] for r in APP._slow_search("deals", groups, TYPES, lag, "", sort, desc)]
    assert fast is not None
    assert fast == slow


def test_a_deal_createdate_takes_the_general_path() -> None:
    """A deal's ``createdate`` is when it opened, not when its record was made."""
    groups = [{"filters": [{"propertyName": "createdate", "operator": "GT", "value": "0"}]}]
    assert WORLD.hubspot.index("deals").search(groups, "hs_object_id", False, 2**62) is None
