"""Seeded generation of the companies and people of the market, as structure-of-arrays.

Everything the market steps on is a numpy array indexed by person, so a day is a handful of
vector operations. Strings (names, emails) are built once here and only read by the CRM views.
About 5% of people carry dirty data, because real CRMs do and connectors must survive it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

INDUSTRIES = (
    "software",
    "financial_services",
    "healthcare",
    "manufacturing",
    "retail",
    "education",
    "telecommunications",
    "logistics",
    "energy",
    "media",
)
COUNTRIES = ("US", "GB", "DE", "FR", "IN", "JP", "AU", "BR", "CA", "NL")
# Whole-hour offsets keep the local-hour arithmetic exact; names are the CRMs' IANA zones.
TZ_OFFSETS = (-5, 0, 1, 1, 5, 9, 10, -3, -5, 1)
TZ_NAMES = (
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Brisbane",
    "America/Sao_Paulo",
    "America/Toronto",
    "Europe/Amsterdam",
)
TECH = (
    "salesforce",
    "hubspot",
    "snowflake",
    "aws",
    "azure",
    "gcp",
    "kubernetes",
    "sap",
    "workday",
    "shopify",
)
BANDS = ("1-10", "11-50", "51-200", "201-1000", "1001-5000", "5001+")
BAND_EMPLOYEES = ((1, 10), (11, 50), (51, 200), (201, 1000), (1001, 5000), (5001, 50000))
ROLES = ("technical", "business", "executive")
SENIORITY = ("individual", "manager", "director", "vp")
STAGES = ("unaware", "aware", "consideration", "decision", "customer")
CHANNEL_PREFS = ("email", "phone", "ads")

_FIRST = (
    "Alice",
    "Bob",
    "Carla",
    "Deepak",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kemi",
    "Liam",
    "Mei",
    "Nora",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
)
_LAST = (
    "Smith",
    "Garcia",
    "Müller",
    "Okafor",
    "Tanaka",
    "Dubois",
    "Kowalski",
    "Silva",
    "Patel",
    "Nguyen",
    "Jensen",
    "Rossi",
    "Haddad",
    "Kim",
    "O'Brien",
    "Novak",
    "Larsen",
    "Ivanova",
)
_UNICODE_FIRST = ("Zoë", "Łukasz", "Søren", "José", "Björk", "Çağla", "Дмитрий", "美咲")
_TITLES = {
    "technical": ("Software Engineer", "DevOps Lead", "Data Engineer", "Solutions Architect"),
    "business": ("Marketing Manager", "Operations Manager", "Finance Analyst", "Product Manager"),
    "executive": ("CTO", "CFO", "VP Sales", "CEO"),
}
_WORDS = (
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Wonka",
    "Aperture",
    "Monarch",
    "Pied",
)


#: preferred local send hour: a rounded normal by role (technical, business, executive), clipped
HOUR_MEAN_BY_ROLE = np.array([14.0, 9.0, 9.0])
HOUR_SD = 2.5
HOUR_MIN, HOUR_MAX = 6, 21
#: weekly touch tolerance and its distribution
TOLERANCES = np.arange(1, 6)
TOLERANCE_P = np.array([0.15, 0.3, 0.3, 0.15, 0.1])


@dataclass
class Population:
    """People and their companies. Person ``i`` is row ``i`` of every person array."""

    n: int
    # companies
    company_name: list[str]
    company_industry: np.ndarray
    company_band: np.ndarray
    company_employees: np.ndarray
    company_revenue: np.ndarray
    company_country: np.ndarray
    company_tech: np.ndarray  # bitmask over TECH
    # people
    company: np.ndarray
    role: np.ndarray
    seniority: np.ndarray
    affinity: np.ndarray  # 1.0 = only technical topics interest them, 0.0 = only business
    pref_channel: np.ndarray
    pref_hour: np.ndarray  # local hour they read mail
    tolerance: np.ndarray  # touches per 7 days before fatigue
    fit: np.ndarray  # how well the product fits their company (0..1)
    base_intent: np.ndarray
    email_consent: np.ndarray
    do_not_call: np.ndarray
    first_name: list[str]
    last_name: list[str]
    email: list[str | None]  # canonical address; None = never had one
    title: list[str]
    # CRM presence and dirt
    in_hubspot: np.ndarray
    in_salesforce: np.ndarray
    sf_email_variant: list[str | None]
    hs_email_variant: list[str | None]
    bad_date: np.ndarray  # the free-text "last event date" field holds garbage
    dirty: np.ndarray
    hs_duplicate: np.ndarray  # a second HubSpot record exists, to be merged
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def tz_offset(self) -> np.ndarray:
        return np.asarray(TZ_OFFSETS)[self.company_country[self.company]]

    @property
    def band(self) -> np.ndarray:
        return self.company_band[self.company]


def generate_population(n: int, seed: int = 0, dirty_rate: float = 0.05) -> Population:
    """Build ``n`` people (about n/8 companies) deterministically from ``seed``."""
    rng = np.random.default_rng(seed)
    n_comp = max(1, n // 8)
    industry = rng.integers(0, len(INDUSTRIES), n_comp)
    band = rng.choice(len(BANDS), n_comp, p=[0.2, 0.25, 0.25, 0.15, 0.1, 0.05])
    lo = np.asarray([b[0] for b in BAND_EMPLOYEES])[band]
    hi = np.asarray([b[1] for b in BAND_EMPLOYEES])[band]
    employees = (lo + rng.random(n_comp) * (hi - lo)).astype(np.int64)
    revenue = np.round(employees * rng.lognormal(11.5, 0.5, n_comp), -3)
    country = rng.choice(len(COUNTRIES), n_comp, p=[0.35, 0.12, 0.1, 0.07, 0.08, 0.06, 0.05, 0.05, 0.07, 0.05])
    tech = rng.integers(0, 2 ** len(TECH), n_comp)
    cname = [
        f"{_WORDS[a]} {_WORDS[b]} {s}"
        for a, b, s in zip(
            rng.integers(0, len(_WORDS), n_comp),
            rng.integers(0, len(_WORDS), n_comp),
            rng.choice(["Inc", "GmbH", "Ltd", "SA", "KK"], n_comp),
            strict=True,
        )
    ]

    company = rng.integers(0, n_comp, n)
    role = rng.choice(3, n, p=[0.45, 0.4, 0.15])
    seniority = np.where(role == 2, 3, rng.choice(3, n, p=[0.5, 0.35, 0.15]))
    aff_mean = np.asarray([0.8, 0.3, 0.35])[role]
    affinity = np.clip(aff_mean + rng.normal(0, 0.15, n), 0.0, 1.0)
    pref_channel = np.where(role == 2, rng.choice(3, n, p=[0.4, 0.4, 0.2]), rng.choice(3, n, p=[0.7, 0.1, 0.2]))
    pref_hour = np.clip(np.round(rng.normal(HOUR_MEAN_BY_ROLE[role], HOUR_SD, n)), HOUR_MIN, HOUR_MAX)
    tolerance = rng.choice(TOLERANCES, n, p=TOLERANCE_P)
    ind_fit = rng.random(len(INDUSTRIES))
    fit = np.clip(
        0.5 * ind_fit[industry[company]] + 0.1 * band[company] / 5 + rng.normal(0.2, 0.12, n),
        0.0,
        1.0,
    )
    base_intent = np.clip(rng.beta(2, 6, n) * (0.6 + 0.8 * fit), 0, 1)
    email_consent = rng.random(n) > 0.04
    do_not_call = rng.random(n) < 0.03

    first = [_FIRST[i] for i in rng.integers(0, len(_FIRST), n)]
    last = [_LAST[i] for i in rng.integers(0, len(_LAST), n)]
    title = [_TITLES[ROLES[r]][k] for r, k in zip(role, rng.integers(0, 4, n), strict=True)]
    email: list[str | None] = [
        f"{f.lower()}.{i}@{cname[c].split()[0].lower()}{c}.example.com"
        for i, (f, c) in enumerate(zip(first, company, strict=True))
    ]
    email = [e.encode("ascii", "ignore").decode() if e else e for e in email]

    u = rng.random(n)
    in_hs = u < 0.75
    in_sf = (u > 0.4) | (rng.random(n) < 0.05)
    dirty = rng.random(n) < dirty_rate
    kind = rng.integers(0, 4, n)
    hs_var: list[str | None] = list(email)
    sf_var: list[str | None] = list(email)
    bad_date = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(dirty):  # setup only, ~5% of people
        k = int(kind[i])
        if k == 0:  # missing email in one system
            if in_sf[i]:
                sf_var[i] = None
            else:
                hs_var[i] = None
        elif k == 1:  # same person in both CRMs, email differs by case/whitespace
            in_hs[i] = in_sf[i] = True
            sf_var[i] = f"  {email[i].upper()} " if email[i] else None
            hs_var[i] = email[i].capitalize() if email[i] else None
        elif k == 2:
            bad_date[i] = True
        else:  # long or non-ASCII names
            first[i] = _UNICODE_FIRST[i % len(_UNICODE_FIRST)]
            if i % 2:
                last[i] = "-".join([last[i]] * 12)  # > 80 characters
    hs_dup = in_hs & (rng.random(n) < 0.01)
    return Population(
        n=n,
        company_name=cname,
        company_industry=industry,
        company_band=band,
        company_employees=employees,
        company_revenue=revenue,
        company_country=country,
        company_tech=tech,
        company=company,
        role=role,
        seniority=seniority,
        affinity=affinity,
        pref_channel=pref_channel,
        pref_hour=pref_hour.astype(np.int64),
        tolerance=tolerance,
        fit=fit,
        base_intent=base_intent,
        email_consent=email_consent,
        do_not_call=do_not_call,
        first_name=first,
        last_name=last,
        email=email,
        title=title,
        in_hubspot=in_hs,
        in_salesforce=in_sf,
        sf_email_variant=sf_var,
        hs_email_variant=hs_var,
        bad_date=bad_date,
        dirty=dirty,
        hs_duplicate=hs_dup,
        meta={"seed": seed},
    )


def tech_names(mask: int) -> list[str]:
    """The tech stack encoded in a company's bitmask."""
    return [t for b, t in enumerate(TECH) if mask >> b & 1]
