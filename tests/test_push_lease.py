"""A push batch slower than its lease keeps it: no other worker takes the rows over mid-call.

Worker A's CRM call outlasts ``push.lease_seconds``. Before, worker B then claimed the rows,
superseded A's older write and sent the newer decision, and A's older write landed on top of
it: the CRM kept the old next best action and the store believed the new one. A heartbeat now
renews the lane lock and the rows' lease while the call runs, so B finds nothing to take and
A sends both writes in order.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from hub.config import load_settings
from hub.pipeline.context import HubContext
from hub.pipeline.decide import decide_contacts
from hub.pipeline.push import push_connector
from hub.pipeline.sync import sync_connector
from hub.store import Store
from hub.store.schema import identities
from tests.conftest import hub_config
from tests.plugins.memory_crm import MemoryCRM

LEASE = 2


def test_a_slow_batch_keeps_its_lease_and_the_newer_write_lands_last(tmp_path, store_url, redis_url):
    crm = MemoryCRM(redis_url, "memcrm")
    crm.clear()
    Store(store_url, auto_migrate=True).dispose()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    lease = {"push.lease_seconds": LEASE}
    slow_crm = {"connectors.crm.settings.push_delay": 3 * LEASE, "push.batch_limit": 1}  # one slow write, then back
    slow = HubContext.build(
        load_settings(hub_config(tmp_path / "a", store_url, redis_url, **lease, **slow_crm)),
        embedded=False,  # Redis locks, as between worker processes
    )
    fast = HubContext.build(load_settings(hub_config(tmp_path / "b", store_url, redis_url, **lease)), embedded=False)
    try:
        crm.put_contact("0", email="ann@example.com", first_name="Ann", stage="lead")
        (cid,) = sync_connector(fast, "crm").changed
        decide_contacts(fast, [cid], "d1")  # the rules: e-mail nurture
        worker_a = threading.Thread(target=push_connector, args=(slow, "crm"))
        worker_a.start()
        time.sleep(0.5)  # A has claimed the write and is inside the CRM call
        now = datetime.now(UTC)
        for k in range(3):  # Ann turns hot: the newer decision hands her to sales
            crm.add_activity(f"pv-{k}", "0", "page_view", now - timedelta(hours=k))
        sync_connector(fast, "crm")
        decide_contacts(fast, [cid], "d2")
        time.sleep(LEASE + 1)  # past the lease A started with
        taken = push_connector(fast, "crm")
        assert taken.sent == 0  # nothing of A's was free to take
        worker_a.join()
        push_connector(fast, "crm")  # whatever A left for later
        assert crm.contact("0")["next_best_action"] == "sales_outreach"
        with fast.store.connect() as conn:
            known = conn.execute(select(identities.c.crm_fields)).scalar()
        assert known["next_best_action"] == "sales_outreach"  # the store knows what the CRM has
        writes = [e["new"] for e in crm.effects() if e["field"] == "next_best_action"]
        assert writes[-1] == "sales_outreach"
    finally:
        slow.close()
        fast.close()
        crm.clear()
