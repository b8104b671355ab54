"""The demo data set: six retail organizations whose rows reproduce the reference figures.

Written in "days ago" with the specs of spec.py; the three reference deployments (lumen-beauty/concierge,
harbor-home/assistant, northwind-outfitters/helpdesk) follow the curves of reference.py.
"""
from __future__ import annotations

from service.demo.reference import (
    HARBOR_LEFT,
    NORTHWIND_LAUNCH,
    NORTHWIND_NAMED,
    harbor_arr,
    lumen_burst,
    northwind_arr,
    pin_harbor,
    pin_northwind,
)
from service.demo.spec import Cadence, Deployment, Org, Owner, Person, Topic, Workflow, steady, trend, wave

LUMEN = Org(
    "lumen-beauty", "Lumen Beauty", "beauty retail", "lum", "lumenbeauty.example",
    topics=(
        Topic("order-status", "Order status", 0.22, 4.00), Topic("returns", "Returns and exchanges", 0.14, 6.50),
        Topic("shade-match", "Shade and product match", 0.16, 5.50), Topic("loyalty", "Loyalty points", 0.10, 3.50),
        Topic("shipping-delay", "Shipping delays", 0.10, 4.50),
        Topic("subscriptions", "Subscription boxes", 0.08, 5.00),
        Topic("damaged-item", "Damaged or leaking item", 0.06, 8.00),
        Topic("ingredients", "Ingredients and allergies", 0.08, 9.50),
        Topic("wholesale", "Salon and wholesale accounts", 0.06, 12.00),
    ),
    people=(
        Person("maya", "Maya Okafor", "CX AI Lead", "CX", 1.0),
        Person("jordan", "Jordan Lee", "Senior Platform Engineer", "ENGINEERING", 0.5),
        Person("sam", "Sam Whitfield", "CX Operations Manager", "CX", 0.6),
        Person("rina", "Rina Das", "VP Customer Experience", "CX", 0.1),
        Person("theo", "Theo Marsh", "Customer Success Manager, Brightdesk", "VENDOR", 0.3,
               domain="brightdesk.example"),
    ),
    deployments=(
        Deployment(
            "concierge", "Lumen Concierge", "Brightdesk", 420,
            {"CHAT": (40, None), "EMAIL": (17, None), "SOCIAL": (10, 200)},
            (Workflow("order-status", ("CHAT", "EMAIL"), 420), Workflow("returns", ("CHAT", "EMAIL"), 420),
             Workflow("shade-match", ("CHAT",), 420, 250, "Shade match (v1)"),
             Workflow("shade-match", ("CHAT", "SOCIAL"), 250), Workflow("loyalty", ("CHAT", "EMAIL"), 290),
             Workflow("shipping-delay", ("CHAT", "EMAIL", "SOCIAL"), 200),
             Workflow("order-status", ("SOCIAL",), 200, name="Order status (social)"),
             Workflow("subscriptions", ("CHAT", "EMAIL"), 120), Workflow("damaged-item", ("CHAT",), 90),
             Workflow("ingredients", ("CHAT", "EMAIL"), 40)),
            trend(0.61, 0.59, 120),
            owners=(Owner("jordan", 420, 300, "set up the deployment", "handover to CX"),
                    Owner("maya", 300, reason="handover from engineering: CX owns the AI")),
            cadence=Cadence(9, 31, reviews_until=2), integrations=6, extra_updates=lumen_burst, escalation="rina",
        ),
        Deployment(
            "voice-line", "Lumen Voice Line", "Helix CX", 210, {"VOICE": (13, None)},
            (Workflow("order-status", ("VOICE",), 210), Workflow("shipping-delay", ("VOICE",), 150),
             Workflow("returns", ("VOICE",), 100)),
            steady(0.42), owners=(Owner("jordan", 210),), cadence=Cadence(2, 2, reviews_until=3), integrations=3,
        ),
        Deployment(
            "sms-alerts", "Lumen SMS Alerts", "Brightdesk", 300, {"SMS": (8, None)},
            (Workflow("order-status", ("SMS",), 300), Workflow("shipping-delay", ("SMS",), 300)),
            steady(0.50), owners=(Owner("sam", 300),), cadence=Cadence(1.5, 45, reviews_until=42),
            status="PAUSED", stopped=40,
        ),
        Deployment(
            "wholesale-desk", "Salon Wholesale Desk", "Brightdesk", 160, {"EMAIL": (5, None)},
            (Workflow("wholesale", ("EMAIL",), 160), Workflow("order-status", ("EMAIL",), 160)),
            wave(0.17, 0.04), topics={"wholesale": 0.55, "order-status": 0.25, "returns": 0.20},
            setup_by="theo", integrations=1,
        ),
    ),
)

HARBOR = Org(
    "harbor-home", "Harbor Home", "home goods retail", "hbr", "harborhome.example",
    topics=(
        Topic("order-status", "Order status", 0.30, 4.00), Topic("delivery", "Delivery scheduling", 0.18, 6.00),
        Topic("returns", "Returns", 0.22, 6.50), Topic("damaged-items", "Damaged items", 0.12, 9.00),
        Topic("assembly", "Assembly help", 0.10, 7.00), Topic("trade-program", "Trade programme", 0.08, 11.00),
    ),
    people=(
        Person("daniel", "Daniel Reyes", "CX Automation Lead", "CX", 0.8, left=HARBOR_LEFT),
        Person("priya", "Priya Nair", "Returns Experience Manager", "CX", 0.7),
        Person("tom", "Tom Becker", "IT Systems Manager", "IT", 0.5),
        Person("marisol", "Marisol Vega", "Director of Customer Care", "CX", 0.2),
        Person("chris", "Chris Lund", "Support Team Lead", "CX", 0.3),
    ),
    deployments=(
        Deployment(
            "assistant", "Harbor Assistant", "Brightdesk", 700, {"CHAT": (76, None), "EMAIL": (42, None)},
            (Workflow("order-status", ("CHAT", "EMAIL"), 690), Workflow("returns", ("CHAT", "EMAIL"), 690),
             Workflow("delivery", ("CHAT", "EMAIL"), 600), Workflow("damaged-items", ("CHAT", "EMAIL"), 400)),
            harbor_arr,
            owners=(Owner("daniel", 560, HARBOR_LEFT, ended_reason="owner left the company; nobody named"),),
            cadence=Cadence(4, HARBOR_LEFT + 1, reviews_until=HARBOR_LEFT + 2), integrations=5, pin=pin_harbor,
        ),
        Deployment(
            "returns-desk", "Returns Desk", "Sable Assist", 260, {"CHAT": (5, None), "EMAIL": (5, None)},
            (Workflow("returns", ("CHAT", "EMAIL"), 260), Workflow("damaged-items", ("CHAT", "EMAIL"), 200),
             Workflow("order-status", ("EMAIL",), 120)),
            trend(0.55, 0.50, 180),
            topics={"returns": 0.50, "damaged-items": 0.25, "order-status": 0.15, "assembly": 0.10},
            owners=(Owner("priya", 260),), cadence=Cadence(3, 1, reviews_until=2), integrations=3,
            escalation="marisol",
        ),
        Deployment(
            "store-voice", "Store Phone Assistant", "Helix CX", 330, {"VOICE": (10, None)},
            (Workflow("order-status", ("VOICE",), 330), Workflow("delivery", ("VOICE",), 330, 90)),
            steady(0.35), owners=(Owner("tom", 330),), cadence=Cadence(1.5, 4, reviews_until=4),
        ),
        Deployment(
            "legacy-faq", "Legacy FAQ Bot", "in-house", 900, {"CHAT": (4, None)},
            (Workflow("order-status", ("CHAT",), 900, 100), Workflow("returns", ("CHAT",), 900, 100)),
            steady(0.22),
            owners=(Owner("priya", 500, 100, ended_reason="deployment retired"),),
            cadence=Cadence(0.5, 110, review_every=28, reviews_until=105), status="RETIRED", stopped=100,
            integrations=0,
        ),
    ),
)

NORTHWIND = Org(
    "northwind-outfitters", "Northwind Outfitters", "outdoor apparel retail", "nwo", "northwind.example",
    topics=(
        Topic("order-status", "Order status", 0.28, 4.50), Topic("returns", "Returns and exchanges", 0.22, 6.00),
        Topic("sizing-fit", "Sizing and fit", 0.14, 5.00), Topic("warranty", "Warranty and repairs", 0.10, 9.00),
        Topic("product-care", "Product care", 0.08, 4.00), Topic("gift-cards", "Gift cards", 0.06, 3.50),
        Topic("store-events", "Store events", 0.05, 3.00), Topic("pro-deals", "Pro deals", 0.07, 7.50),
    ),
    people=(
        Person("elena", "Elena Novak", "Head of Customer Care", "CX", 0.8),
        Person("kai", "Kai Ito", "Implementation Manager, Brightdesk", "VENDOR", 0.5, domain="brightdesk.example"),
        Person("noah", "Noah Brooks", "E-commerce CX Specialist", "CX", 0.6),
        Person("sven", "Sven Dahl", "IT Analyst", "IT", 0.2),
        Person("amara", "Amara Osei", "Support Supervisor", "CX", 0.3),
    ),
    deployments=(
        Deployment(
            "helpdesk", "Northwind Helpdesk", "Brightdesk", NORTHWIND_LAUNCH,
            {"CHAT": (42, None), "EMAIL": (30, 50)},
            (Workflow("order-status", ("CHAT",), NORTHWIND_LAUNCH), Workflow("returns", ("CHAT",), NORTHWIND_LAUNCH),
             Workflow("gift-cards", ("CHAT",), NORTHWIND_LAUNCH, 58),
             Workflow("order-status", ("EMAIL",), 50, name="Order status (email)"),
             Workflow("returns", ("EMAIL",), 50, name="Returns and exchanges (email)"),
             Workflow("sizing-fit", ("CHAT", "EMAIL"), 44), Workflow("warranty", ("CHAT", "EMAIL"), 35),
             Workflow("product-care", ("CHAT", "EMAIL"), 21)),
            northwind_arr,
            owners=(Owner("elena", NORTHWIND_NAMED, reason="named accountable owner after the yearly CX review"),),
            cadence=Cadence(6, 1, reviews_until=1), history=NORTHWIND_LAUNCH, noise=0.01, integrations=4,
            escalation="amara",
            pin=pin_northwind,
        ),
        Deployment(
            "order-tracker", "Order Tracker", "Brightdesk", 240, {"SMS": (6, None), "CHAT": (5, None)},
            (Workflow("order-status", ("SMS", "CHAT"), 240), Workflow("returns", ("CHAT",), 200)),
            steady(0.47), owners=(Owner("kai", 240, reason="vendor manages it"),),
            cadence=Cadence(2, 2, reviews_until=5),
        ),
        Deployment(
            "gear-advisor", "Gear Advisor", "Sable Assist", 280, {"CHAT": (8, None)},
            (Workflow("sizing-fit", ("CHAT",), 280), Workflow("product-care", ("CHAT",), 280),
             Workflow("pro-deals", ("CHAT",), 150)),
            steady(0.38), topics={"sizing-fit": 0.45, "product-care": 0.25, "pro-deals": 0.15, "returns": 0.15},
            owners=(Owner("noah", 280),), cadence=Cadence(2, 20, reviews_until=18),
        ),
        Deployment(
            "b2b-orders", "B2B Orders Inbox", "in-house", 190, {"EMAIL": (5, None)},
            (Workflow("order-status", ("EMAIL",), 190), Workflow("pro-deals", ("EMAIL",), 190)),
            wave(0.15, 0.04), topics={"order-status": 0.40, "pro-deals": 0.35, "returns": 0.25},
            setup_by="sven", integrations=1,
        ),
    ),
)

ALDER = Org(
    "alder-and-pine", "Alder & Pine", "furniture retail", "ald", "alderandpine.example",
    topics=(
        Topic("order-status", "Order status", 0.24, 5.00), Topic("delivery", "Delivery windows", 0.22, 8.00),
        Topic("assembly", "Assembly", 0.12, 7.50), Topic("returns", "Returns", 0.14, 9.00),
        Topic("fabric-care", "Fabric care", 0.08, 3.00), Topic("financing", "Financing", 0.10, 6.00),
        Topic("trade", "Trade accounts", 0.10, 12.00),
    ),
    people=(
        Person("grace", "Grace Kim", "Senior CX Manager, Stores", "CX", 0.5),
        Person("leo", "Leo Martins", "Digital CX Manager", "CX", 0.9),
        Person("ava", "Ava Patel", "Applications Engineer", "ENGINEERING", 0.6),
        Person("lena", "Lena Fox", "Solutions Consultant, Convai Retail", "VENDOR", 0.5, domain="convai.example"),
        Person("hannah", "Hannah Moore", "VP Customer Experience", "CX", 0.1),
    ),
    deployments=(
        Deployment(
            "chat", "Alder Chat", "Convai Retail", 400, {"CHAT": (20, None)},
            (Workflow("order-status", ("CHAT",), 400), Workflow("delivery", ("CHAT",), 400),
             Workflow("returns", ("CHAT",), 400), Workflow("assembly", ("CHAT",), 220),
             Workflow("financing", ("CHAT",), 150, 60)),
            trend(0.55, 0.50, 120),
            owners=(Owner("grace", 400, 100, ended_reason="handover: Grace now leads the stores programme"),
                    Owner("leo", 100, reason="handover from Grace Kim")),
            cadence=Cadence(4, 2, reviews_until=1), integrations=4,
        ),
        Deployment(
            "delivery-sms", "Delivery Updates", "Convai Retail", 260, {"SMS": (9, None)},
            (Workflow("delivery", ("SMS",), 260), Workflow("order-status", ("SMS",), 260)),
            steady(0.58), topics={"delivery": 0.55, "order-status": 0.30, "assembly": 0.15},
            owners=(Owner("leo", 260),), cadence=Cadence(2, 3, reviews_until=10),
        ),
        Deployment(
            "email-assist", "Email Assist", "Convai Retail", 300, {"EMAIL": (10, None)},
            (Workflow("order-status", ("EMAIL",), 300), Workflow("returns", ("EMAIL",), 300),
             Workflow("fabric-care", ("EMAIL",), 300)),
            steady(0.41), owners=(Owner("ava", 300),), cadence=Cadence(2, 2, reviews_until=3),
        ),
        Deployment(
            "voice-ivr", "Voice IVR", "Helix CX", 365, {"VOICE": (7, None)},
            (Workflow("order-status", ("VOICE",), 365), Workflow("delivery", ("VOICE",), 365)),
            trend(0.24, 0.30, 30),
            owners=(Owner("grace", 365, 30, ended_reason="owner moved to the stores programme; nobody named"),),
            cadence=Cadence(1, 31, review_every=14, reviews_until=32),
        ),
        Deployment(
            "trade-desk", "Trade Desk", "Convai Retail", 140, {"EMAIL": (4, None), "CHAT": (2, None)},
            (Workflow("trade", ("EMAIL",), 140),),
            wave(0.12, 0.03), topics={"trade": 0.60, "order-status": 0.25, "delivery": 0.15},
            setup_by="lena", integrations=1,
        ),
    ),
)

COPPERLEAF = Org(
    "copperleaf-grocers", "Copperleaf Grocers", "grocery retail", "cop", "copperleaf.example",
    topics=(
        Topic("delivery-slots", "Delivery slots", 0.22, 4.00), Topic("substitutions", "Substitutions", 0.18, 3.50),
        Topic("order-status", "Order status", 0.20, 3.00), Topic("refunds", "Refunds", 0.14, 5.50),
        Topic("pharmacy", "Pharmacy refills", 0.08, 11.00), Topic("recipes", "Recipes", 0.08, 1.50),
        Topic("loyalty", "Loyalty card", 0.10, 2.50),
    ),
    people=(
        Person("olivia", "Olivia Grant", "CX Automation Manager", "CX", 1.0),
        Person("marco", "Marco Silva", "Fulfilment CX Lead", "CX", 0.5),
        Person("raj", "Raj Mehta", "IT Business Partner", "IT", 0.8),
        Person("ines", "Ines Duarte", "Catering Service Manager", "CX", 0.5),
        Person("peter", "Peter Lang", "Head of Stores Support", "OTHER", 0.1),
    ),
    deployments=(
        Deployment(
            "shopper-help", "Shopper Help", "Sable Assist", 380, {"CHAT": (15, None), "SMS": (6, 200)},
            (Workflow("delivery-slots", ("CHAT", "SMS"), 200), Workflow("delivery-slots", ("CHAT",), 380, 200,
                                                                         "Delivery slots (chat only)"),
             Workflow("order-status", ("CHAT",), 380), Workflow("refunds", ("CHAT",), 250),
             Workflow("loyalty", ("CHAT", "SMS"), 120)),
            trend(0.58, 0.55, 90), owners=(Owner("olivia", 380),), cadence=Cadence(5, 1, reviews_until=1),
            integrations=5,
        ),
        Deployment(
            "substitutions", "Substitutions Assistant", "Sable Assist", 200, {"SMS": (9, None)},
            (Workflow("substitutions", ("SMS",), 200),),
            trend(0.64, 0.61, 90), topics={"substitutions": 0.75, "order-status": 0.15, "refunds": 0.10},
            owners=(Owner("marco", 200),), cadence=Cadence(2, 2, reviews_until=4),
        ),
        Deployment(
            "recipe-bot", "Recipe Bot", "in-house", 150, {"CHAT": (4, None), "SOCIAL": (3, None)},
            (Workflow("recipes", ("CHAT", "SOCIAL"), 150),),
            wave(0.20, 0.05), topics={"recipes": 0.70, "loyalty": 0.20, "order-status": 0.10}, integrations=0,
        ),
        Deployment(
            "pharmacy-line", "Pharmacy Line", "Helix CX", 240, {"VOICE": (6, None)},
            (Workflow("pharmacy", ("VOICE",), 240), Workflow("order-status", ("VOICE",), 240)),
            steady(0.33), topics={"pharmacy": 0.65, "order-status": 0.20, "refunds": 0.15},
            owners=(Owner("raj", 240),), cadence=Cadence(1.5, 3, reviews_until=2), integrations=3,
        ),
        Deployment(
            "catering", "Catering Orders", "Sable Assist", 220, {"EMAIL": (4, None)},
            (Workflow("order-status", ("EMAIL",), 220), Workflow("refunds", ("EMAIL",), 220)),
            steady(0.44), owners=(Owner("ines", 220),), cadence=Cadence(1, 30, reviews_until=16),
        ),
    ),
)

TIDEWATER = Org(
    "tidewater-sports", "Tidewater Sports", "sporting goods retail", "tdw", "tidewater.example",
    topics=(
        Topic("order-status", "Order status", 0.25, 4.00), Topic("returns", "Returns", 0.20, 6.00),
        Topic("sizing", "Sizing", 0.15, 5.00), Topic("club-membership", "Club membership", 0.12, 6.50),
        Topic("repairs", "Repairs and servicing", 0.10, 8.00), Topic("events", "Events and races", 0.08, 3.00),
        Topic("team-orders", "Team orders", 0.10, 10.00),
    ),
    people=(
        Person("zoe", "Zoe Carter", "CX Systems Lead", "CX", 0.8),
        Person("ben", "Ben Ortiz", "CX Specialist", "CX", 0.5),
        Person("mia", "Mia Fischer", "CX Product Owner", "CX", 0.7),
        Person("luis", "Luis Romero", "Customer Care Agent", "CX", 0.2),
    ),
    deployments=(
        Deployment(
            "support", "Tidewater Support", "Convai Retail", 360,
            {"CHAT": (17, None), "EMAIL": (8, None), "SOCIAL": (4, 150)},
            (Workflow("order-status", ("CHAT", "EMAIL"), 360),
             Workflow("order-status", ("SOCIAL",), 150, name="Order status (social)"),
             Workflow("returns", ("CHAT", "EMAIL"), 360), Workflow("sizing", ("CHAT",), 200),
             Workflow("repairs", ("CHAT", "EMAIL"), 90)),
            trend(0.56, 0.52, 150), owners=(Owner("zoe", 360),), cadence=Cadence(4, 1, reviews_until=2),
            integrations=4,
        ),
        Deployment(
            "fitting-assistant", "Fitting Assistant", "Convai Retail", 230, {"CHAT": (7, None)},
            (Workflow("sizing", ("CHAT",), 230), Workflow("returns", ("CHAT",), 230)),
            trend(0.51, 0.48, 90), topics={"sizing": 0.60, "returns": 0.25, "order-status": 0.15},
            owners=(Owner("ben", 230, 120, ended_reason="handover to the CX product owner"),
                    Owner("mia", 120, reason="handover from Ben Ortiz")),
            cadence=Cadence(2.5, 3, reviews_until=3),
        ),
        Deployment(
            "club-memberships", "Club Memberships", "in-house", 270, {"EMAIL": (8, None)},
            (Workflow("club-membership", ("EMAIL",), 270), Workflow("events", ("EMAIL",), 270)),
            trend(0.30, 0.50, 60),
            topics={"club-membership": 0.55, "events": 0.20, "order-status": 0.10, "returns": 0.15},
            owners=(Owner("ben", 270),), cadence=Cadence(1, 5, reviews_until=4), integrations=1,
        ),
    ),
    reopen_hours=48,
)

ORGS: tuple[Org, ...] = (LUMEN, HARBOR, NORTHWIND, ALDER, COPPERLEAF, TIDEWATER)
DEMO_SLUGS = tuple(o.slug for o in ORGS)
