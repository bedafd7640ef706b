"""Writes one simulated day of market events into both CRMs' state.

This is the only per-event Python loop in a world step; events are sparse (a few percent of
people per day), and record dicts are what the servers serve. Market-made changes are not in
the write log (that holds only what the API accepted) but do move modification stamps.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from hub.sandbox.catalog import CATALOG
from hub.sandbox.clock import iso_ms, sf_datetime
from hub.sandbox.hubspot_state import FORM_GUID, LIFECYCLE, HubSpotState
from hub.sandbox.market import EV, PAGES, Market
from hub.sandbox.population import Population
from hub.sandbox.salesforce_state import SalesforceState


class WorldParts(Protocol):
    """What the writer reads and changes of hub.sandbox.world.World (which calls it, so it is
    described here rather than imported)."""

    config: Any  # WorldConfig: write_page_views
    hubspot: HubSpotState
    salesforce: SalesforceState
    pop: Population
    market: Market
    accounts: dict[int, str]
    market_opps: dict[int, str]
    market_deals: dict[int, str]

    def _account(self, c: int, at: int | None = None) -> str: ...


_EMAIL_TYPES = {
    EV["email_sent"]: ("SENT", "DELIVERED"),
    EV["email_open"]: ("OPEN",),
    EV["email_click"]: ("CLICK",),
}


def write_events(
    world: WorldParts,
    events: dict[str, np.ndarray],
    times: np.ndarray,
    before_stage: np.ndarray,
    before_unsub: np.ndarray,
) -> None:
    hs, sf, pop, m = world.hubspot, world.salesforce, world.pop, world.market
    hs_touch: dict[str, dict[str, object]] = {}
    for k in range(len(events["person"])):
        i = int(events["person"][k])
        et = int(events["type"][k])
        at = int(times[k])
        a = int(events["action"][k])
        aid = CATALOG[a].id if a >= 0 else None
        hid = hs.id_of_person.get(i)
        hrec = hs.live(hid) if hid else None
        if hrec is not None:
            hid = hrec["id"]
            email = hrec["properties"].get("email")
            if et in _EMAIL_TYPES and email:
                for t in _EMAIL_TYPES[et]:
                    hs.email_events.append(
                        {
                            "id": f"{at}-{i}-{t}",
                            "type": t,
                            "created": at,
                            "recipient": email,
                            "portalId": hs.portal_id,
                            "appId": 113,
                            "appName": "Batch",  # HubSpot's marketing-email app
                            "emailCampaignId": 1000 + a,
                            "sentBy": {"id": f"{at}-{i}", "created": at},
                        }
                    )
            elif et in (EV["page_view"], EV["ad_click"]) and world.config.write_page_views:
                p = hs_touch.setdefault(hid, {})
                n0 = int(
                    p.get(
                        "hs_analytics_num_page_views",
                        hrec["properties"].get("hs_analytics_num_page_views") or 0,
                    )
                )
                p["hs_analytics_num_page_views"] = n0 + 1
            elif et in (EV["form_submit"], EV["webinar"], EV["content_download"]) and email:
                name = _conversion_name(et, aid, int(events["detail"][k]))
                hs.form_submissions.append(
                    {
                        "conversionId": f"{at}-{i}",
                        "submittedAt": at,
                        "formGuid": FORM_GUID,
                        "pageUrl": f"https://www.example.com/{PAGES[int(events['detail'][k]) % 4]}",
                        "values": [
                            {"name": "email", "value": email},
                            {"name": "firstname", "value": pop.first_name[i]},
                            {"name": "form_name", "value": name},
                        ],
                    }
                )
                p = hs_touch.setdefault(hid, {})
                p["recent_conversion_event_name"] = name
                n0 = int(hrec["properties"].get("num_conversion_events") or 0)
                p["num_conversion_events"] = int(p.get("num_conversion_events", n0)) + 1
            elif et == EV["meeting"]:
                hs.add_engagement(
                    "meetings",
                    hid,
                    at,
                    {
                        "hs_meeting_title": "Intro meeting",
                        "hs_meeting_outcome": "COMPLETED",
                        "hs_meeting_start_time": iso_ms(at),
                        "hs_meeting_end_time": iso_ms(at + 1_800_000),
                    },
                )
            elif et == EV["call"]:
                hs.add_engagement(
                    "calls",
                    hid,
                    at,
                    {
                        "hs_call_title": "Sales outreach",
                        "hs_call_direction": "OUTBOUND",
                        "hs_call_status": "COMPLETED",
                    },
                )
            elif et in _DEAL_EVENTS and not _in_salesforce(world, i):
                _write_deal(world, i, hid, et, at, float(events["value"][k]))
            elif et == EV["unsubscribe"]:
                hs_touch.setdefault(hid, {})["hs_email_optout"] = "true"
                if email:  # HubSpot logs the opt-out as a STATUSCHANGE email event too
                    hs.email_events.append(
                        {
                            "id": f"{at}-{i}-STATUSCHANGE",
                            "type": "STATUSCHANGE",
                            "created": at,
                            "recipient": email,
                            "portalId": hs.portal_id,
                            "appId": 113,
                            "appName": "Batch",  # HubSpot's marketing-email app
                            "emailCampaignId": 1000 + a if a >= 0 else None,
                            "source": "SOURCE_LIST_UNSUBSCRIBE",
                            "requestedBy": email,
                            "portalSubscriptionStatus": "UNSUBSCRIBED",
                            "subscriptions": [{"id": 1, "status": "UNSUBSCRIBED"}],
                        }
                    )
        _write_salesforce(world, i, et, at, aid, float(events["value"][k]), int(events["detail"][k]))
    for hid, props in hs_touch.items():
        hs.set_properties(hid, props, "market", source="market")
    changed = np.flatnonzero(before_stage != m.stage)
    for i in changed:
        hid = hs.id_of_person.get(int(i))
        rec = hs.live(hid) if hid else None
        if rec is not None:
            stage = int(m.stage[i])
            life = "opportunity" if stage == 3 and m.opp_open[i] else LIFECYCLE[stage]
            hs.set_properties(rec["id"], {"lifecyclestage": life}, "market", source="market")
        lead = sf.lead_of_person.get(int(i))
        if lead and not sf.objects["Lead"][lead]["IsConverted"]:
            status = (
                "Open - Not Contacted",
                "Working - Contacted",
                "Working - Contacted",
                "Qualified",
                "Qualified",
            )[int(m.stage[i])]
            sf.update("Lead", lead, {"Status": status}, "automation", source="system")
    del before_unsub  # opt-outs arrive as unsubscribe events above


_DEAL_EVENTS = (EV["opportunity_created"], EV["opportunity_won"], EV["opportunity_lost"])


def _in_salesforce(world: WorldParts, i: int) -> bool:
    """A deal lives in one CRM: Salesforce when the person is there (a sales team with both
    keeps its pipeline in Salesforce), else HubSpot; so no opportunity is counted twice."""
    return i in world.salesforce.contact_of_person or i in world.salesforce.lead_of_person


def _write_deal(world: WorldParts, i: int, hid: str, et: int, at: int, value: float) -> None:
    """The HubSpot side of an opportunity: a deal associated with the contact, opened in the
    default pipeline and moved to closedwon or closedlost."""
    hs, pop = world.hubspot, world.pop
    if et == EV["opportunity_created"]:
        name = f"{pop.company_name[int(pop.company[i])]} - New Business"
        world.market_deals[i] = hs.add_deal(hid, at, name, value)
        return
    deal = world.market_deals.pop(i, None)
    if deal is not None:
        hs.close_deal(deal, et == EV["opportunity_won"], at)


def _conversion_name(et: int, aid: str | None, detail: int) -> str:
    """What the CRM calls a conversion: the form, webinar or download behind it."""
    if et == EV["webinar"]:
        return "Webinar attended"
    if et == EV["content_download"]:
        return f"Download: {('technical', 'business')[detail % 2]} content"
    return f"Form submitted: {aid or 'website'}"


def _write_salesforce(
    world: WorldParts, i: int, et: int, at: int, aid: str | None, value: float, detail: int = 0
) -> None:
    sf, pop = world.salesforce, world.pop
    who = sf.contact_of_person.get(i) or sf.lead_of_person.get(i)
    if who is None:
        return
    obj = "Contact" if who.startswith("003") else "Lead"
    day = sf_datetime(at)[:10]
    if et == EV["email_sent"]:
        sf.create(
            "Task",
            {
                "WhoId": who,
                "Subject": f"Email: {aid}",
                "TaskSubtype": "Email",
                "Status": "Completed",
                "ActivityDate": day,
            },
            at_ms=at,
        )
    elif et == EV["call"]:
        sf.create(
            "Task",
            {
                "WhoId": who,
                "Subject": "Call: sales outreach",
                "TaskSubtype": "Call",
                "Status": "Completed",
                "ActivityDate": day,
            },
            at_ms=at,
        )
    elif et in (EV["form_submit"], EV["webinar"], EV["content_download"]):
        sf.create(
            "Task",
            {
                "WhoId": who,
                "Subject": _conversion_name(et, aid, detail),
                "TaskSubtype": "Task",
                "Status": "Completed",
                "ActivityDate": day,
            },
            at_ms=at,
        )
    elif et == EV["meeting"]:
        sf.create(
            "Event",
            {
                "WhoId": who,
                "Subject": "Intro meeting",
                "StartDateTime": at,
                "EndDateTime": at + 1_800_000,
                "ActivityDateTime": at,
            },
            at_ms=at,
        )
    elif et == EV["unsubscribe"]:
        sf.update(obj, who, {"HasOptedOutOfEmail": True}, "market", source="market")
    elif et == EV["opportunity_created"]:
        c = int(pop.company[i])
        if obj == "Lead":
            who = _convert_lead(world, i, who, c, at)
        acct = sf.objects["Contact"][who]["AccountId"]
        opp = sf.create(
            "Opportunity",
            {
                "Name": f"{pop.company_name[c]} - New Business",
                "AccountId": acct,
                "Amount": round(value, 2),
                "StageName": "Qualification",
                "CloseDate": day,
                "ContactId": who,  # the primary contact, as Salesforce sets it (API 46.0+)
                "ContactId__c": who,
            },
            at_ms=at,
        )
        world.market_opps[i] = opp
    elif et in (EV["opportunity_won"], EV["opportunity_lost"]):
        opp = world.market_opps.get(i)
        if opp:
            won = et == EV["opportunity_won"]
            sf.update(
                "Opportunity",
                opp,
                {
                    "StageName": "Closed Won" if won else "Closed Lost",
                    "IsClosed": True,
                    "IsWon": won,
                    "CloseDate": day,
                },
                "market",
                source="market",
            )


def _convert_lead(world: WorldParts, i: int, lead_id: str, c: int, at: int) -> str:
    """Lead conversion as Salesforce does it: a Contact (and Account) are created, the Lead is
    marked converted and becomes read-only, its campaign memberships the Contact's too."""
    sf = world.salesforce
    lead = sf.objects["Lead"][lead_id]
    acct = world.accounts.get(c) or world._account(c)
    world.accounts[c] = acct
    fields = {
        k: lead[k]
        for k in (
            "FirstName",
            "LastName",
            "Email",
            "Title",
            "OwnerId",
            "HasOptedOutOfEmail",
            "DoNotCall",
            "LeadSource",
            "Last_Event_Date__c",
            "Hub_Next_Best_Action__c",
            "Hub_Best_Send_Time__c",
            "Hub_Best_Channel__c",
            "Hub_Decision_Id__c",
        )
    }
    contact = sf.create("Contact", dict(fields, AccountId=acct), person=i)
    sf.convert_lead(lead_id, contact, acct, sf_datetime(at)[:10])
    sf.contact_of_person[i] = contact
    sf.lead_of_person.pop(i, None)
    return contact
