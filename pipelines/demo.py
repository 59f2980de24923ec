"""A complete DEMO cooperation with synthetic data: `samkjop demo --out DIR`.

Writes the six members of Værnesregionen innkjøp with two years of monthly spend
deliveries (four in the canonical CSV format, two in their own ERP shape), an
agreement register, demo reference files and `cooperation.yml`. Everything is
generated from `random.Random(seed)`: the same seed gives byte-identical files.

The data is made up (see the DEMO_DATA.md it writes), but shaped like the real
thing so that every rule of the domain brief has something to bite on:

- suppliers with valid, missing, malformed and wrong-checksum organisation numbers,
  most of the irregular ones in a supplier register (`agreements/supplier_register.csv`,
  by normalised name or name pattern),
  written as ERPs write them (`123 456 789`, `NO123456789MVA`, ...);
- influenceable and non-influenceable arts (payroll, rent, purchases from other
  municipalities and inter-municipal companies, transfers), some unknown arts;
- national, cooperation and local agreements, one expiring and one starting inside
  the period, one that not every member joined, overlapping scopes;
- a per-member probability of buying from an agreement supplier when the category
  is covered, so loyalty differs clearly between members;
- credit notes that reverse earlier invoices, a few EUR and SEK lines, and one
  month/currency without an exchange rate (those lines must be rejected);
- a responsibility code (ansvar) on every line, item numbers, quantities and unit
  prices on the canonical members' lines from the suppliers of three agreements with a
  price list (`agreements/price_list.csv`), a few of them invoiced off the agreed price;
- invoices delivered twice (the same invoice again in the next month's file) and
  same-supplier same-amount invoices a few days apart under a new invoice number;
- an estimated annual volume on most agreements, provision rates on some, and
  agreements that expire in the first half of 2026.

Lines are written as they are generated (bounded memory at any `lines`).
"""

from __future__ import annotations

import csv
import math
import random
from bisect import bisect
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate
from pathlib import Path
from statistics import NormalDist

from stdnum.no import orgnr as no_orgnr

from pipelines.contracts import column_names
from pipelines.settings import default_reference_file

__all__ = [
    "AGREEMENT_COLUMNS",
    "CPV_CHECK",
    "DEMO_LOYALTY",
    "ERP_COLUMNS",
    "MEMBERS",
    "MISSING_RATE",
    "PRICE_LIST_COLUMNS",
    "PRICE_LIST_PATH",
    "PRICE_TOLERANCE",
    "PRICED_AGREEMENTS",
    "SPEND_COLUMNS",
    "DemoMember",
    "generate_demo",
]

# The standard files' columns come from their contracts (data_contracts/*.odcs.yaml).
SPEND_COLUMNS = column_names("spend")
AGREEMENT_COLUMNS = column_names("agreements")
PRICE_LIST_PATH = "agreements/price_list.csv"
PRICE_LIST_COLUMNS = column_names("price_list")
SUPPLIER_REGISTER_PATH = "agreements/supplier_register.csv"
SUPPLIER_REGISTER_COLUMNS = column_names("supplier_register")
# The demo's supplier register: the irregular suppliers (no valid organisation number),
# identified by their name (normalised: "TRØNDERKONTOR A/S" is "Trønderkontor AS") or a
# name pattern. (supplier_id, supplier_name, alias_type, alias)
DEMO_SUPPLIER_REGISTER = (
    ("D-KAFE", "Kafé Torget", "name", "Kafe Torget"),
    ("D-KAFE", "Kafé Torget", "name", "Kafé Torget"),
    ("D-SNEKKER", "Snekker Ola Hegre", "name", "Snekker Ola Hegre"),
    ("D-FJELLSTUA", "Fjellstua Overnatting", "name_pattern", "^fjellstua"),
    ("D-TRONDERKONTOR", "Trønderkontor AS", "name", "TRØNDERKONTOR LTD"),
)
REGISTERED_SUPPLIERS = len({row[0] for row in DEMO_SUPPLIER_REGISTER})
# The register suppliers that are private persons (is_person): a sole proprietorship (ENK)
# named after its owner, with an organisation number of its own in the register (its
# spend lines carry none). The council's dashboards and the annual report count it among
# the "private persons", never by name (marts.private_payees, dashboards/privacy.py).
DEMO_PERSON_SUPPLIERS = ("D-SNEKKER",)
PRICE_TOLERANCE = "0.02"  # cooperation.price_tolerance in the generated cooperation.yml
# The two members that deliver in their own ERP's shape (profiles in data_contracts/profiles).
ERP_COLUMNS = {
    "visma-csv-selbu": (
        "Bilagsnr",
        "Linje",
        "Fakturadato",
        "Orgnr",
        "Leverandør",
        "Konto",
        "Ansvar",
        "Beløp eks mva",
        "Valuta",
        "Varekode",
        "Beskrivelse",
        "Ordrenr",
        "Avtalenr",
    ),
    "erp-csv-meraker": (
        "Fakturanr",
        "Linjenr",
        "Fakturadato",
        "Leverandørens orgnr",
        "Leverandørnavn",
        "Kontonr",
        "Ansvar",
        "Nettobeløp",
        "Valutakode",
        "Kodeverk",
        "Varekode",
        "Tekst",
        "Bestillingsnr",
        "Kontraktsnr",
    ),
}

MONTHS = tuple((2024 + i // 12, i % 12 + 1) for i in range(24))  # 2024-01 .. 2025-12
MISSING_RATE = ("SEK", "2025-07")  # no demo rate for this month: those lines are rejected
PROGRESS_EVERY = 100_000
NORMAL_STEPS = 1 << 15


@dataclass(frozen=True)
class DemoMember:
    """A member municipality of the demo cooperation and how its ERP writes."""

    id: str
    name: str
    population: int
    loyalty: float  # probability that a purchase in a covered category goes on agreement
    profile: str
    places: tuple[str, ...]
    payroll_supplier: bool  # payroll postings carry the municipality's own org. number
    account_style: str  # how the local account embeds the KOSTRA art


MEMBERS: tuple[DemoMember, ...] = (
    DemoMember(
        "5035",
        "Stjørdal",
        24050,
        0.92,
        "canonical",
        ("Stjørdal", "Hell", "Skatval", "Lånke", "Hegra", "Værnes"),
        True,
        "art+2",
    ),
    DemoMember(
        "5032",
        "Selbu",
        4096,
        0.78,
        "visma-csv-selbu",
        ("Selbu", "Mebonden", "Innbygda", "Flora"),
        True,
        "art+2",
    ),
    DemoMember(
        "5033",
        "Tydal",
        807,
        0.66,
        "canonical",
        ("Tydal", "Ås", "Stugudal", "Gressli"),
        False,
        "art+3",
    ),
    DemoMember(
        "5034",
        "Meråker",
        2435,
        0.72,
        "erp-csv-meraker",
        ("Meråker", "Kopperå", "Gudå", "Stordalen"),
        False,
        "4+art+2",
    ),
    DemoMember(
        "5036", "Frosta", 2629, 0.50, "canonical", ("Frosta", "Logtun", "Tautra"), True, "art+4"
    ),
    DemoMember(
        "5026",
        "Holtålen",
        2030,
        0.60,
        "canonical",
        ("Holtålen", "Ålen", "Haltdalen", "Renbygda"),
        False,
        "art+2",
    ),
)
HOST = "5035"
# catch_all_payees of the generated cooperation.yml: the members whose payroll postings
# carry their own organisation number (a payee of all salaries, not one supplier)
OWN_PAYROLL_PAYEES = (
    "^(" + "|".join(m.name.lower() for m in MEMBERS if m.payroll_supplier) + ") kommune$"
)
DEMO_LOYALTY = {m.id: m.loyalty for m in MEMBERS}

SEASON = (0.92, 0.97, 1.05, 0.98, 1.04, 1.08, 0.55, 0.93, 1.06, 1.07, 1.10, 1.30)
YEAR_GROWTH = {2024: 1.0, 2025: 1.04}
INVOICE_SIZES = (1, 2, 3, 4, 5, 6, 8, 12)
INVOICE_SIZE_WEIGHTS = (0.50, 0.18, 0.11, 0.07, 0.05, 0.04, 0.03, 0.02)
CREDIT_NOTE_SHARE = 0.047  # of invoices; ~2 % of lines

# --- categories: taxonomy leaves with arts, amounts and real CPV codes -------------------

# CPV check digits verified against the published CPV 2008 list; codes not listed here
# are written without a check digit (the EU's check-digit formula is not reliable).
CPV_CHECK = {
    "03000000": "1",
    "09111400": "4",
    "09130000": "9",
    "09132000": "3",
    "09134200": "9",
    "09135000": "4",
    "09135100": "5",
    "09310000": "5",
    "09320000": "8",
    "09323000": "9",
    "15110000": "2",
    "15112130": "6",
    "15220000": "6",
    "15511000": "3",
    "15811100": "7",
    "18110000": "3",
    "30192000": "1",
    "30197630": "1",
    "30213100": "6",
    "33141110": "4",
    "33600000": "6",
    "34110000": "1",
    "39130000": "2",
    "39162100": "6",
    "39831200": "8",
    "44110000": "4",
    "45210000": "2",
    "48000000": "8",
    "50700000": "2",
    "55520000": "1",
    "60130000": "8",
    "63510000": "7",
    "64212000": "5",
    "66510000": "8",
    "71220000": "6",
    "72611000": "6",
    "77310000": "6",
    "79110000": "8",
    "79341000": "6",
    "79410000": "1",
    "79620000": "6",
    "80511000": "9",
    "85311100": "3",
    "90511000": "2",
    "90620000": "9",
    "90911200": "8",
    "98311000": "6",
}


@dataclass(frozen=True)
class _Leaf:
    """How purchases of one taxonomy leaf look: volume, amounts, arts, item codes."""

    weight: float  # share of invoices
    median: float  # NOK, log-normal amount per line
    sigma: float
    arts: tuple[tuple[str, float], ...]
    suppliers: int
    words: tuple[str, ...]  # for supplier names
    codes: tuple[tuple[str, str], ...]  # (CPV, description)
    unspsc: tuple[tuple[str, str], ...] = ()
    descriptions: tuple[str, ...] = ()  # when there are no codes


LEAVES: dict[str, _Leaf] = {
    "it.hardware": _Leaf(
        3.0,
        6000,
        1.0,
        (("200", 0.7), ("120", 0.3)),
        12,
        ("Data", "IT", "Datautstyr", "Teknologi", "PC-Service"),
        (
            ("30213100", "Bærbar PC"),
            ("30213300", "Stasjonær PC"),
            ("30213200", "Nettbrett"),
            ("30231300", "Skjerm"),
            ("30232110", "Laserskriver"),
            ("30237460", "Tastatur"),
            ("30237200", "Datatilbehør"),
        ),
        (("43211503", "Bærbar PC"), ("43211507", "Stasjonær PC")),
    ),
    "it.software": _Leaf(
        2.0,
        15000,
        1.2,
        (("195", 0.4), ("120", 0.4), ("270", 0.2)),
        15,
        ("Software", "Systemer", "Programvare", "Digital", "Solutions"),
        (
            ("48000000", "Programvarelisens"),
            ("48443000", "Regnskapsprogram, lisens"),
            ("48311100", "Dokumenthåndteringssystem"),
            ("48515000", "Videokonferanse, lisens"),
            ("48760000", "Virusbeskyttelse"),
            ("48810000", "Fagsystem, årlig vedlikehold"),
        ),
    ),
    "it.services": _Leaf(
        1.5,
        18000,
        1.1,
        (("270", 0.85), ("120", 0.15)),
        14,
        ("IT-partner", "Nettverk", "Drift", "Consulting", "Digital"),
        (
            ("72611000", "Teknisk brukerstøtte"),
            ("72212000", "Programmeringstjenester"),
            ("72415000", "Webhotell og drift"),
            ("72500000", "IT-driftstjenester"),
            ("72266000", "Programvarerådgivning"),
            ("72700000", "Nettverkstjenester"),
        ),
    ),
    "it.telekom": _Leaf(
        3.0,
        2500,
        1.0,
        (("130", 1.0),),
        6,
        ("Telekom", "Nett", "Fiber", "Bredbånd", "Kommunikasjon"),
        (
            ("64212000", "Mobilabonnement"),
            ("64210000", "Telefoni og datakommunikasjon"),
            ("64216000", "Meldingstjenester og SMS-varsling"),
            ("64112000", "Porto brev"),
            ("64121200", "Pakkelevering og budtjenester"),
        ),
    ),
    "helse.forbruk": _Leaf(
        8.0,
        2500,
        1.0,
        (("110", 0.9), ("120", 0.1)),
        12,
        ("Medical", "Helseprodukter", "Medisinsk", "Sykepleie", "Hygiene"),
        (
            ("33141110", "Bandasjer og kompresser"),
            ("33141420", "Kirurgiske hansker"),
            ("33141118", "Våtservietter"),
            ("33141310", "Sprøyter"),
            ("33751000", "Bleier og inkontinensprodukter"),
            ("33141000", "Medisinsk forbruksmateriell"),
        ),
        (("42132203", "Undersøkelseshansker"),),
    ),
    "helse.legemidler": _Leaf(
        4.0,
        3500,
        1.0,
        (("114", 1.0),),
        5,
        ("Pharma", "Farmasi", "Legemidler", "Apotek"),
        (
            ("33600000", "Legemidler"),
            ("33690000", "Diverse legemidler"),
            ("33651000", "Antibiotika og vaksiner"),
            ("33616000", "Vitaminer"),
            ("33615100", "Insulin"),
            ("33661000", "Legemidler for nervesystemet"),
        ),
    ),
    "helse.utstyr": _Leaf(
        2.0,
        9000,
        1.2,
        (("209", 0.8), ("200", 0.2)),
        12,
        ("Hjelpemidler", "Medtek", "Rehab", "Omsorgsteknologi"),
        (
            ("33192120", "Pleieseng"),
            ("33193000", "Rullestol"),
            ("33196000", "Medisinske hjelpemidler"),
            ("33123100", "Blodtrykksmåler"),
            ("33190000", "Medisinsk utstyr"),
            ("33182100", "Hjertestarter"),
        ),
    ),
    "helse.tjenester": _Leaf(
        1.2,
        50000,
        1.0,
        (("370", 0.7), ("270", 0.3)),
        10,
        ("Omsorg", "Helse", "Omsorgssenter", "Velferd", "Barnevern"),
        (
            ("85311100", "Tjenester for eldre"),
            ("85311200", "Tjenester for personer med funksjonsnedsettelse"),
            ("85312320", "Rådgivningstjenester"),
            ("85140000", "Diverse helsetjenester"),
            ("85121000", "Legetjenester"),
            ("85311300", "Tiltak for barn og unge"),
        ),
    ),
    "mat.dagligvarer": _Leaf(
        10.0,
        2200,
        0.9,
        (("115", 1.0),),
        14,
        ("Dagligvare", "Storhusholdning", "Bakeri", "Engros", "Mat"),
        (
            ("15811100", "Brød"),
            ("15612000", "Mel og bakevarer"),
            ("15860000", "Kaffe og te"),
            ("15981000", "Mineralvann"),
            ("15800000", "Diverse matvarer"),
            ("15411200", "Matolje"),
            ("15851000", "Pasta og ris"),
        ),
    ),
    "mat.ferskvarer": _Leaf(
        8.0,
        2000,
        0.9,
        (("115", 1.0),),
        14,
        ("Fisk", "Kjøtt", "Frukt og Grønt", "Meieri", "Slakteri"),
        (
            ("15110000", "Kjøtt"),
            ("15112130", "Kylling"),
            ("15220000", "Fisk, frossen"),
            ("15300000", "Frukt og grønnsaker"),
            ("15511000", "Melk"),
            ("15540000", "Ost"),
            ("15530000", "Smør"),
        ),
    ),
    "mat.catering": _Leaf(
        1.5,
        5000,
        0.9,
        (("115", 0.5), ("270", 0.5)),
        8,
        ("Catering", "Kantine", "Kjøkken", "Storkjøkken", "Mat og Møter"),
        (
            ("55520000", "Catering"),
            ("55510000", "Kantinetjenester"),
            ("55521200", "Matombringing"),
            ("55523100", "Skolemåltider"),
        ),
    ),
    "bygg.entreprise": _Leaf(
        1.2,
        45000,
        1.3,
        (("230", 1.0),),
        25,
        ("Bygg", "Entreprenør", "Anlegg", "Byggservice", "Tømrer", "Maskinentreprenør"),
        (
            ("45210000", "Byggearbeid"),
            ("45453000", "Rehabilitering"),
            ("45310000", "Elektroinstallasjon"),
            ("45330000", "Rørleggerarbeid"),
            ("45233140", "Veiarbeid"),
            ("45421000", "Snekkerarbeid"),
            ("45442100", "Malerarbeid"),
        ),
    ),
    "bygg.vedlikehold": _Leaf(
        5.0,
        9000,
        1.1,
        (("240", 1.0),),
        30,
        ("Elektro", "Rør", "VVS", "Ventilasjon", "Heis", "Brøyting", "Eiendomsservice", "Kulde"),
        (
            ("50700000", "Vedlikehold av tekniske anlegg"),
            ("50710000", "Service elektro og VVS"),
            ("50730000", "Service kjøleanlegg"),
            ("50750000", "Heisservice"),
            ("77310000", "Skjøtsel av grøntanlegg"),
            ("90620000", "Snøbrøyting"),
            ("90630000", "Strøing"),
        ),
    ),
    "bygg.materialer": _Leaf(
        6.0,
        2500,
        1.1,
        (("250", 0.8), ("120", 0.2)),
        15,
        ("Trelast", "Byggevarer", "Jernvare", "Byggsenter", "Maling"),
        (
            ("44110000", "Byggematerialer"),
            ("44190000", "Diverse byggevarer"),
            ("44510000", "Verktøy"),
            ("44520000", "Låser og beslag"),
            ("44800000", "Maling og sparkel"),
            ("44163000", "Rør og rørdeler"),
        ),
    ),
    "transport.kjoretoy": _Leaf(
        2.0,
        8000,
        1.2,
        (("210", 0.6), ("240", 0.4)),
        12,
        ("Bil", "Auto", "Bilsenter", "Dekk", "Verksted", "Leasing"),
        (
            ("34110000", "Personbil, leasing"),
            ("34130000", "Varebil"),
            ("50112000", "Bilservice"),
            ("34351100", "Bildekk"),
            ("34144900", "Elbil, leasing"),
        ),
    ),
    "transport.drivstoff": _Leaf(
        4.0,
        1500,
        0.8,
        (("120", 0.8), ("170", 0.2)),
        6,
        ("Drivstoff", "Energi", "Olje", "Tank"),
        (("09132000", "Bensin"), ("09134200", "Diesel"), ("09130000", "Drivstoff")),
    ),
    "transport.persontransport": _Leaf(
        3.0,
        9000,
        1.0,
        (("170", 1.0),),
        12,
        ("Taxi", "Drosje", "Buss", "Turbuss", "Transport", "Skyss"),
        (
            ("60130000", "Skoleskyss"),
            ("60120000", "Drosjetjenester"),
            ("60140000", "Turbuss og leiekjøring"),
            ("60170000", "Leie av kjøretøy med sjåfør"),
            ("60112000", "Rutebuss"),
        ),
    ),
    "transport.reise": _Leaf(
        2.0,
        3500,
        0.9,
        (("170", 1.0),),
        8,
        ("Reiser", "Hotell", "Travel", "Reisebyrå"),
        (
            ("63510000", "Reisebyråtjenester"),
            ("55110000", "Hotellovernatting"),
            ("60410000", "Flyreiser"),
            ("55120000", "Møter og konferanser, hotell"),
        ),
    ),
    "konsulent.radgivning": _Leaf(
        1.0,
        30000,
        1.1,
        (("270", 1.0),),
        15,
        ("Rådgivning", "Consulting", "Analyse", "Revisjon", "Økonomi"),
        (
            ("79410000", "Organisasjonsrådgivning"),
            ("79412000", "Økonomirådgivning"),
            ("79414000", "HR-rådgivning"),
            ("79418000", "Innkjøpsrådgivning"),
            ("79212000", "Revisjonstjenester"),
            ("79211000", "Regnskapstjenester"),
        ),
    ),
    "konsulent.juridisk": _Leaf(
        0.6,
        25000,
        1.0,
        (("270", 1.0),),
        8,
        ("Advokatfirma",),
        (
            ("79110000", "Juridisk bistand"),
            ("79111000", "Juridisk rådgivning"),
            ("79112000", "Prosessoppdrag"),
        ),
    ),
    "konsulent.teknisk": _Leaf(
        1.0,
        35000,
        1.1,
        (("270", 0.6), ("230", 0.4)),
        14,
        ("Arkitekter", "Rådgivende Ingeniører", "Prosjekt", "Ingeniørtjenester", "Plan og Bygg"),
        (
            ("71220000", "Arkitekttjenester"),
            ("71311000", "Rådgivende ingeniør, bygg og anlegg"),
            ("71315000", "Byggteknisk rådgivning"),
            ("71240000", "Prosjektering"),
            ("71400000", "Arealplanlegging og landskapsarkitektur"),
        ),
    ),
    "konsulent.bemanning": _Leaf(
        1.5,
        22000,
        0.9,
        (("270", 1.0),),
        8,
        ("Bemanning", "Vikar", "Helsebemanning", "Rekruttering", "Personal"),
        (
            ("79620000", "Vikartjenester"),
            ("79624000", "Innleie av sykepleiere"),
            ("79625000", "Innleie av leger"),
            ("79610000", "Rekruttering"),
            ("79621000", "Kontorvikar"),
        ),
    ),
    "kontor.rekvisita": _Leaf(
        8.0,
        1200,
        1.0,
        (("100", 1.0),),
        12,
        ("Kontor", "Papir", "Kontorservice", "Trykkeri", "Kontorrekvisita"),
        (
            ("30192000", "Kontorrekvisita"),
            ("30197630", "Kopipapir"),
            ("30192121", "Kulepenner"),
            ("30125100", "Toner"),
            ("30199000", "Papirvarer"),
            ("79810000", "Trykking"),
            ("30121100", "Kopimaskin"),
        ),
        (("14111507", "Kopipapir"),),
    ),
    "kontor.mobler": _Leaf(
        1.5,
        8000,
        1.1,
        (("200", 0.8), ("220", 0.2)),
        10,
        ("Møbler", "Interiør", "Inventar", "Kontormøbler", "Innredning"),
        (
            ("39130000", "Kontormøbler"),
            ("39112000", "Stoler"),
            ("39121100", "Skrivebord"),
            ("39160000", "Skolemøbler"),
            ("39161000", "Barnehagemøbler"),
            ("39150000", "Inventar"),
        ),
        (("56101504", "Stoler"),),
    ),
    "kontor.annonser": _Leaf(
        1.0,
        6000,
        1.0,
        (("140", 1.0),),
        8,
        ("Media", "Reklame", "Kommunikasjon", "Avis", "Design"),
        (
            ("79341000", "Annonsering"),
            ("79341400", "Informasjonskampanje"),
            ("79342000", "Markedsføring"),
            ("79340000", "Stillingsannonser"),
        ),
    ),
    "energi.strom": _Leaf(
        2.0,
        15000,
        1.1,
        (("180", 1.0),),
        4,
        ("Kraft", "Energi", "Kraftsalg"),
        (("09310000", "Elektrisk kraft"),),
    ),
    "energi.fjernvarme": _Leaf(
        1.0,
        30000,
        0.9,
        (("181", 1.0),),
        2,
        ("Fjernvarme", "Varme", "Energi"),
        (("09323000", "Fjernvarme"), ("09320000", "Varme")),
    ),
    "energi.fossil": _Leaf(
        0.5,
        12000,
        0.8,
        (("182", 0.8), ("183", 0.2)),
        3,
        ("Olje", "Gass", "Energi"),
        (
            ("09135100", "Fyringsolje"),
            ("09135000", "Fyringsparafin"),
            ("09122100", "Propan"),
            ("09133000", "Flytende gass (LPG)"),
        ),
    ),
    "energi.bio": _Leaf(
        0.5,
        15000,
        0.8,
        (("184", 1.0),),
        4,
        ("Bioenergi", "Pellets", "Flis", "Ved og Flis"),
        (("09111400", "Pellets og flis"), ("03413000", "Ved")),
    ),
    "renhold.tjenester": _Leaf(
        2.0,
        15000,
        1.0,
        (("260", 1.0),),
        10,
        ("Renhold", "Rengjøring", "Renholdsservice", "Vinduspuss"),
        (
            ("90911200", "Renhold av bygninger"),
            ("90911300", "Vinduspuss"),
            ("90910000", "Rengjøring"),
            ("90919200", "Kontorrenhold"),
            ("90919300", "Skolerenhold"),
        ),
    ),
    "renhold.midler": _Leaf(
        4.0,
        1800,
        1.0,
        (("120", 0.8), ("100", 0.2)),
        8,
        ("Hygiene", "Renholdsprodukter", "Papir", "Rent"),
        (
            ("39831200", "Vaskemidler"),
            ("39831300", "Gulvrengjøringsmidler"),
            ("33763000", "Tørkepapir"),
            ("33761000", "Toalettpapir"),
            ("39224300", "Koster og børster"),
        ),
        (("47131800", "Rengjøringsmidler"),),
    ),
    "renhold.vaskeri": _Leaf(
        1.5,
        4000,
        0.9,
        (("260", 1.0),),
        4,
        ("Vaskeri", "Tekstilservice", "Renseri"),
        (
            ("98311000", "Vaskeritjenester"),
            ("98312000", "Tekstilrens"),
            ("98310000", "Vask og rens"),
        ),
    ),
    "renhold.avfall": _Leaf(
        1.0,
        8000,
        1.0,
        (("270", 1.0),),
        4,
        ("Miljø", "Gjenvinning", "Avfall"),
        (
            ("90511000", "Avfallsinnsamling"),
            ("90513000", "Avfallsbehandling"),
            ("90512000", "Avfallstransport"),
            ("90524000", "Medisinsk avfall"),
        ),
    ),
    "undervisning.materiell": _Leaf(
        4.0,
        2500,
        1.0,
        (("105", 1.0),),
        14,
        ("Læremidler", "Forlag", "Skole", "Lek", "Pedagogikk", "Lekeplass"),
        (
            ("39162100", "Undervisningsutstyr"),
            ("39162110", "Undervisningsmateriell"),
            ("22111000", "Skolebøker"),
            ("22113000", "Bibliotekbøker"),
            ("37520000", "Leker"),
            ("37524100", "Pedagogiske spill"),
            ("37535200", "Lekeplassutstyr"),
        ),
    ),
    "undervisning.kurs": _Leaf(
        2.0,
        8000,
        1.0,
        (("150", 1.0),),
        14,
        ("Kompetanse", "Kurs", "Opplæring", "Akademi", "Utvikling"),
        (
            ("80511000", "Kurs for ansatte"),
            ("80530000", "Fagkurs"),
            ("80522000", "Seminar"),
            ("80533100", "Datakurs"),
            ("80570000", "Lederutvikling"),
        ),
    ),
    "annet.forsikring": _Leaf(
        0.5,
        25000,
        1.3,
        (("185", 1.0),),
        5,
        ("Forsikring", "Sikkerhet", "Vakt", "Alarm"),
        (
            ("66510000", "Forsikring"),
            ("66515200", "Eiendomsforsikring"),
            ("66514110", "Motorvognforsikring"),
            ("79711000", "Alarmovervåking"),
            ("79713000", "Vakttjenester"),
            ("35121700", "Alarmanlegg"),
        ),
    ),
    "annet.gebyrer": _Leaf(
        3.0,
        1500,
        1.2,
        (("195", 1.0),),
        10,
        ("Lisens", "Forvaltning", "Medlemsservice", "Gebyrtjenester"),
        (),
        descriptions=(
            "Gebyr",
            "Lisensavgift",
            "Medlemskontingent",
            "Tinglysingsgebyr",
            "Årsavgift",
            "Vederlag for kopiering",
            "Abonnement fagtidsskrift",
        ),
    ),
    "annet.diverse": _Leaf(
        4.0,
        1500,
        1.1,
        (("120", 1.0),),
        20,
        ("Handel", "Service", "Arbeidsklær", "Verneutstyr", "Engros"),
        (
            ("18110000", "Arbeidsklær"),
            ("18830000", "Vernesko"),
            ("18141000", "Arbeidshansker"),
            ("18424300", "Engangshansker"),
        ),
    ),
}


@dataclass(frozen=True)
class _Other:
    """A kind of non-influenceable posting (payroll, rent, public bodies, transfers)."""

    weight: float
    median: float
    sigma: float
    arts: tuple[tuple[str, float], ...]
    descriptions: tuple[str, ...]


OTHERS: dict[str, _Other] = {
    "lonn": _Other(
        1.0,
        90000,
        0.9,
        (
            ("010", 0.45),
            ("020", 0.08),
            ("030", 0.05),
            ("040", 0.05),
            ("050", 0.05),
            ("090", 0.14),
            ("099", 0.18),
        ),
        (
            "Lønnsutbetaling",
            "Lønn vikarer",
            "Ekstrahjelp",
            "Overtid",
            "Pensjonsinnskudd",
            "Arbeidsgiveravgift",
        ),
    ),
    "husleie": _Other(
        1.0,
        38000,
        0.7,
        (("190", 1.0),),
        ("Husleie", "Leie av lokaler", "Festeavgift", "Leie av kontorlokaler"),
    ),
    "kjop_kommune": _Other(
        0.6,
        60000,
        1.0,
        (("350", 0.95), ("270", 0.05)),
        (
            "Vertskommunetjenester IKT",
            "Felles barneverntjeneste",
            "Legevakt, andel",
            "Felles innkjøpstjeneste",
            "Kjøp av plass i institusjon",
        ),
    ),
    "kjop_iks": _Other(0.5, 45000, 1.0, (("375", 0.85), ("270", 0.15)), ("Eierbidrag",)),
    "kjop_stat": _Other(0.08, 20000, 1.0, (("300", 1.0),), ("Gebyr",)),
    "kjop_fylke": _Other(
        0.08, 30000, 1.0, (("330", 1.0),), ("Skoleskyss, refusjon", "Tannhelsetjenester")
    ),
    "overforing": _Other(
        0.5,
        12000,
        1.2,
        (("470", 1.0),),
        ("Driftstilskudd", "Tilskudd til arrangement", "Kulturmidler"),
    ),
    "overf_iks": _Other(0.05, 50000, 0.8, (("475", 1.0),), ("Tilskudd, eierandel",)),
    "overf_kommune": _Other(0.05, 40000, 1.0, (("450", 1.0),), ("Overføring, felles tiltak",)),
    "ukjent": _Other(
        0.06, 3000, 1.2, (("999", 0.6), ("", 0.4)), ("Diverse", "Korreksjon", "Ukjent postering")
    ),
}

PAYROLL_DESCRIPTIONS = {
    "010": "Lønnsutbetaling",
    "020": "Lønn vikarer",
    "030": "Ekstrahjelp",
    "040": "Overtid",
    "050": "Godtgjørelser",
    "090": "Pensjonsinnskudd",
    "099": "Arbeidsgiveravgift",
}

# --- agreements -------------------------------------------------------------------------


@dataclass(frozen=True)
class _AgreementSpec:
    id: str
    name: str
    scope: str
    leaves: tuple[str, ...]
    suppliers: int
    valid_from: date
    valid_to: date
    participants: tuple[str, ...] = ("*",)
    provision: str = ""


def _d(text: str) -> date:
    return date.fromisoformat(text)


AGREEMENTS: tuple[_AgreementSpec, ...] = (
    _AgreementSpec(
        "N-SKI-2201",
        "SKI Programvarelisenser",
        "national",
        ("it.software",),
        2,
        _d("2022-01-01"),
        _d("2026-12-31"),
    ),
    _AgreementSpec(
        "N-SKI-2301",
        "SKI Drivstoff",
        "national",
        ("transport.drivstoff",),
        2,
        _d("2023-01-01"),
        _d("2026-12-31"),
    ),
    _AgreementSpec(
        "N-SKI-2110",
        "SKI Kraftforvaltning og strøm",
        "national",
        ("energi.strom",),
        1,
        _d("2021-10-01"),
        _d("2026-09-30"),
    ),
    _AgreementSpec(
        "N-DFO-2204",
        "DFØ Reisetjenester",
        "national",
        ("transport.reise",),
        2,
        _d("2022-04-01"),
        _d("2026-03-31"),
    ),
    _AgreementSpec(
        "N-LIS-2302",
        "LIS Legemidler (kommunal tilslutning)",
        "national",
        ("helse.legemidler",),
        3,
        _d("2023-02-01"),
        _d("2027-01-31"),
    ),
    _AgreementSpec(
        "N-SKI-2206",
        "SKI Mobil- og datakommunikasjon",
        "national",
        ("it.telekom",),
        2,
        _d("2022-06-01"),
        _d("2026-05-31"),
    ),
    _AgreementSpec(
        "V-2021-01",
        "Kontorrekvisita og papir",
        "cooperation",
        ("kontor.rekvisita",),
        2,
        _d("2021-09-01"),
        _d("2026-08-31"),
        provision="0.0225",
    ),
    _AgreementSpec(
        "V-2022-02",
        "Medisinsk forbruksmateriell",
        "cooperation",
        ("helse.forbruk",),
        3,
        _d("2022-03-01"),
        _d("2026-02-28"),
        provision="0.0225",
    ),
    _AgreementSpec(
        "V-2022-03",
        "Dagligvarer og ferskvarer",
        "cooperation",
        ("mat.dagligvarer", "mat.ferskvarer"),
        3,
        _d("2022-09-01"),
        _d("2026-08-31"),
        provision="0.0225",
    ),
    _AgreementSpec(
        "V-2021-04",
        "Byggevarer og jernvare",
        "cooperation",
        ("bygg.materialer",),
        3,
        _d("2021-05-01"),
        _d("2026-04-30"),
    ),
    _AgreementSpec(
        "V-2023-05",
        "Drift og vedlikehold av tekniske anlegg",
        "cooperation",
        ("bygg.vedlikehold",),
        4,
        _d("2023-01-01"),
        _d("2026-12-31"),
    ),
    _AgreementSpec(
        "V-2022-06",
        "Renholdsartikler og tørkepapir",
        "cooperation",
        ("renhold.midler",),
        2,
        _d("2022-01-01"),
        _d("2025-12-31"),
        provision="0.0225",
    ),
    _AgreementSpec(
        "V-2022-07",
        "Møbler og inventar",
        "cooperation",
        ("kontor.mobler",),
        3,
        _d("2022-06-01"),
        _d("2026-05-31"),
    ),
    _AgreementSpec(
        "V-2023-08",
        "Økonomi- og organisasjonsrådgivning",
        "cooperation",
        ("konsulent.radgivning",),
        3,
        _d("2023-04-01"),
        _d("2027-03-31"),
    ),
    _AgreementSpec(
        "V-2022-09",
        "Advokattjenester",
        "cooperation",
        ("konsulent.juridisk",),
        2,
        _d("2022-10-01"),
        _d("2026-09-30"),
    ),
    _AgreementSpec(
        "V-2021-10",
        "Rådgivende ingeniør- og arkitekttjenester",
        "cooperation",
        ("konsulent.teknisk",),
        4,
        _d("2021-11-01"),
        _d("2025-12-31"),
    ),
    _AgreementSpec(
        "V-2023-11",
        "Vikartjenester helse og omsorg",
        "cooperation",
        ("konsulent.bemanning",),
        3,
        _d("2023-06-01"),
        _d("2027-05-31"),
        participants=("5035", "5032", "5036"),
    ),
    _AgreementSpec(
        "V-2022-12",
        "Medisinsk utstyr og hjelpemidler",
        "cooperation",
        ("helse.utstyr",),
        2,
        _d("2022-02-01"),
        _d("2026-01-31"),
    ),
    _AgreementSpec(
        "V-2022-13",
        "Leasing av kjøretøy og verkstedtjenester",
        "cooperation",
        ("transport.kjoretoy",),
        2,
        _d("2022-05-01"),
        _d("2026-04-30"),
    ),
    _AgreementSpec(
        "V-2023-14",
        "Skoleskyss og drosjetjenester",
        "cooperation",
        ("transport.persontransport",),
        3,
        _d("2023-08-01"),
        _d("2027-07-31"),
    ),
    _AgreementSpec(
        "V-2022-15",
        "IT-konsulenttjenester og brukerstøtte",
        "cooperation",
        ("it.services",),
        2,
        _d("2022-11-01"),
        _d("2026-10-31"),
    ),
    _AgreementSpec(
        "V-2021-16",
        "PC, nettbrett og skjermer",
        "cooperation",
        ("it.hardware",),
        3,
        _d("2021-09-01"),
        _d("2025-12-31"),
        ("5035", "5032", "5033", "5034"),
        provision="0.0225",
    ),
    _AgreementSpec(
        "V-2022-17",
        "Annonser og kunngjøringer",
        "cooperation",
        ("kontor.annonser",),
        1,
        _d("2022-01-01"),
        _d("2025-12-31"),
    ),
    _AgreementSpec(
        "V-2020-18",
        "Fyringsolje og parafin",
        "cooperation",
        ("energi.fossil",),
        1,
        _d("2020-09-01"),
        _d("2024-08-31"),
    ),
    _AgreementSpec(
        "V-2022-19",
        "Pellets og flis",
        "cooperation",
        ("energi.bio",),
        2,
        _d("2022-09-01"),
        _d("2026-08-31"),
    ),
    _AgreementSpec(
        "V-2023-20",
        "Renholdstjenester",
        "cooperation",
        ("renhold.tjenester",),
        2,
        _d("2023-03-01"),
        _d("2027-02-28"),
    ),
    _AgreementSpec(
        "V-2025-21",
        "Vaskeri- og tekstiltjenester",
        "cooperation",
        ("renhold.vaskeri",),
        2,
        _d("2025-03-01"),
        _d("2029-02-28"),
    ),
    _AgreementSpec(
        "V-2022-22",
        "Læremidler, leker og lekeplassutstyr",
        "cooperation",
        ("undervisning.materiell",),
        3,
        _d("2022-07-01"),
        _d("2026-06-30"),
        provision="0.0225",
    ),
    _AgreementSpec(
        "V-2023-23",
        "Forsikring og alarmovervåking",
        "cooperation",
        ("annet.forsikring",),
        2,
        _d("2023-01-01"),
        _d("2026-12-31"),
    ),
    _AgreementSpec(
        "V-2022-24",
        "Catering og møtemat",
        "cooperation",
        ("mat.catering",),
        2,
        _d("2022-04-01"),
        _d("2026-03-31"),
    ),
    _AgreementSpec(
        "V-2021-25",
        "Rammeavtale små byggeoppdrag",
        "cooperation",
        ("bygg.entreprise",),
        4,
        _d("2021-06-01"),
        _d("2025-12-31"),
    ),
    _AgreementSpec(
        "L-5035-01",
        "Brøyting og strøing, Stjørdal",
        "local",
        ("bygg.vedlikehold",),
        2,
        _d("2022-10-01"),
        _d("2026-09-30"),
        ("5035",),
    ),
    _AgreementSpec(
        "L-5035-02",
        "Kantinedrift rådhuset, Stjørdal",
        "local",
        ("mat.catering",),
        1,
        _d("2023-01-01"),
        _d("2026-12-31"),
        ("5035",),
    ),
    _AgreementSpec(
        "L-5032-01",
        "Byggevarer, lokal leverandør Selbu",
        "local",
        ("bygg.materialer",),
        1,
        _d("2023-05-01"),
        _d("2026-04-30"),
        ("5032",),
    ),
    _AgreementSpec(
        "L-5032-02",
        "Drosjetjenester Selbu",
        "local",
        ("transport.persontransport",),
        1,
        _d("2022-08-01"),
        _d("2026-07-31"),
        ("5032",),
    ),
    _AgreementSpec(
        "L-5033-01",
        "Brøyting og vaktmestertjenester Tydal",
        "local",
        ("bygg.vedlikehold",),
        1,
        _d("2023-10-01"),
        _d("2026-09-30"),
        ("5033",),
    ),
    _AgreementSpec(
        "L-5033-02",
        "Dagligvarer, lokal butikk Tydal",
        "local",
        ("mat.dagligvarer",),
        1,
        _d("2022-01-01"),
        _d("2025-12-31"),
        ("5033",),
    ),
    _AgreementSpec(
        "L-5034-01",
        "Skyss og persontransport Meråker",
        "local",
        ("transport.persontransport",),
        1,
        _d("2023-01-01"),
        _d("2026-12-31"),
        ("5034",),
    ),
    _AgreementSpec(
        "L-5034-02",
        "Flis til nærvarmeanlegg Meråker",
        "local",
        ("energi.bio",),
        1,
        _d("2022-10-01"),
        _d("2026-09-30"),
        ("5034",),
    ),
    _AgreementSpec(
        "L-5036-01",
        "Frukt og grønt fra lokale produsenter, Frosta",
        "local",
        ("mat.ferskvarer",),
        1,
        _d("2023-04-01"),
        _d("2026-03-31"),
        ("5036",),
    ),
    _AgreementSpec(
        "L-5036-02",
        "Vaktmester og snørydding Frosta",
        "local",
        ("bygg.vedlikehold",),
        1,
        _d("2022-11-01"),
        _d("2026-10-31"),
        ("5036",),
    ),
    _AgreementSpec(
        "L-5026-01",
        "Små byggeoppdrag Holtålen",
        "local",
        ("bygg.entreprise",),
        1,
        _d("2023-02-01"),
        _d("2026-01-31"),
        ("5026",),
    ),
    _AgreementSpec(
        "L-5026-02",
        "Drivstoff Holtålen",
        "local",
        ("transport.drivstoff",),
        1,
        _d("2022-06-01"),
        _d("2026-05-31"),
        ("5026",),
    ),
)

# Leaves whose purchases are posted on arts that the art rules send elsewhere: the demo
# adds supplier rules for the agreement suppliers there (that is what supplier rules are for).
SUPPLIER_RULE_LEAVES = (
    "konsulent.juridisk",
    "konsulent.teknisk",
    "konsulent.bemanning",
    "it.services",
    "mat.catering",
    "transport.reise",
    "it.hardware",
    "it.software",
    "transport.drivstoff",
    "renhold.midler",
    "renhold.vaskeri",
    "transport.kjoretoy",
)
# Agreement suppliers that also sell in a neighbouring category (supplier loyalty, rule 10).
CROSS_SELL = {
    "kontor.rekvisita": ("renhold.midler", "undervisning.materiell"),
    "helse.forbruk": ("renhold.midler",),
    "bygg.materialer": ("annet.diverse",),
    "mat.dagligvarer": ("mat.catering",),
}
# Member-local suppliers (the shop, the builder, the taxi in the village), per leaf.
LOCAL_LEAVES = (
    "bygg.vedlikehold",
    "bygg.vedlikehold",
    "bygg.entreprise",
    "bygg.entreprise",
    "bygg.materialer",
    "mat.dagligvarer",
    "mat.ferskvarer",
    "transport.persontransport",
    "transport.drivstoff",
    "transport.kjoretoy",
    "renhold.tjenester",
    "annet.diverse",
    "energi.bio",
    "mat.catering",
)

# --- departments (ansvar), price lists, duplicate invoices ---------------------------------

# Responsibility codes (ansvar) of the demo members: four-digit codes per service area; the
# host, being larger, splits two areas into units. Every line carries one; an invoice is
# posted on one code.
DEPARTMENT_NAMES = {
    "1000": "Sentraladministrasjon",
    "2000": "Oppvekst",
    "2100": "Barnehager",
    "2200": "Grunnskoler",
    "3000": "Helse og omsorg",
    "3100": "Hjemmetjenester",
    "3200": "Sykehjem og institusjoner",
    "4000": "Teknisk drift og eiendom",
    "5000": "Kultur og fritid",
}
_AREA_CODES = {area: (area,) for area in ("1000", "2000", "3000", "4000", "5000")}
DEPARTMENTS: dict[str, dict[str, tuple[str, ...]]] = {m.id: _AREA_CODES for m in MEMBERS}
DEPARTMENTS[HOST] = {**_AREA_CODES, "2000": ("2100", "2200"), "3000": ("3100", "3200")}
# Which service areas buy a kind of thing (by leaf group, or by kind of other posting).
DEPARTMENT_MIX: dict[str, tuple[tuple[str, float], ...]] = {
    "it": (("1000", 0.6), ("2000", 0.25), ("3000", 0.15)),
    "helse": (("3000", 0.92), ("2000", 0.08)),
    "mat": (("3000", 0.55), ("2000", 0.4), ("1000", 0.05)),
    "bygg": (("4000", 0.9), ("2000", 0.05), ("3000", 0.05)),
    "transport": (("4000", 0.4), ("3000", 0.35), ("2000", 0.25)),
    "konsulent": (("1000", 0.5), ("3000", 0.3), ("4000", 0.2)),
    "kontor": (("1000", 0.5), ("2000", 0.3), ("3000", 0.2)),
    "energi": (("4000", 1.0),),
    "renhold": (("4000", 0.7), ("3000", 0.2), ("2000", 0.1)),
    "undervisning": (("2000", 0.85), ("5000", 0.1), ("1000", 0.05)),
    "annet": (("1000", 0.5), ("4000", 0.3), ("5000", 0.2)),
    "lonn": (("1000", 0.15), ("2000", 0.35), ("3000", 0.4), ("4000", 0.07), ("5000", 0.03)),
    "husleie": (("1000", 0.4), ("4000", 0.6)),
    "kjop_kommune": (("1000", 0.4), ("3000", 0.4), ("2000", 0.2)),
    "overforing": (("5000", 0.8), ("1000", 0.2)),
}

# Agreements with a price list: the canonical members' lines from their suppliers carry
# the supplier's item number, a quantity and a unit price (quantity x unit price is the
# line amount, exactly). Prices are per item and calendar year (a 2.5-4.5 % index
# adjustment from 2025-01-01).
PRICED_AGREEMENTS = ("V-2021-01", "V-2022-03", "V-2021-16")
ITEM_PRICE_RANGE = {  # unit price as a share of the leaf's median line amount
    "kontor.rekvisita": (0.02, 0.4),
    "mat.dagligvarer": (0.01, 0.2),
    "mat.ferskvarer": (0.02, 0.25),
    "it.hardware": (0.05, 1.6),
}
ITEMS_PER_CODE = 4  # items per supplier and CPV code of the leaf
BY_WEIGHT_LEAVES = ("mat.ferskvarer",)  # sold per kg: quantities with one decimal
PRICED_SHARE = 0.9  # of those suppliers' agreement lines; the rest (freight, fees) has none
PRICE_ABOVE_SHARE = 0.03  # of priced lines: invoiced 3-15 % above the agreed price
PRICE_ABOVE_SHARE_OVERCHARGER = 0.12  # the last supplier of V-2022-03 overcharges more often
PRICE_BELOW_SHARE = 0.03  # of priced lines: invoiced 0.5-3 % below the agreed price
# Per member: invoices delivered again in the next month's file, and invoices sent twice
# under a new invoice number a few days later (same supplier, same lines and amount).
RESENT_INVOICES = 3
SAME_AMOUNT_INVOICES = 3
# Agreements without an estimated annual volume in the register (the rest have one).
NO_VOLUME_ESTIMATE = ("N-LIS-2302", "L-5033-01", "L-5033-02", "L-5026-01", "L-5026-02")

# --- names --------------------------------------------------------------------------------

REGION_WORDS = (
    "Trøndelag",
    "Midt-Norge",
    "Nordic",
    "Norsk",
    "Nidaros",
    "Trondheim",
    "Innherred",
    "Gauldal",
    "Fosen",
    "Namdal",
    "Nord",
    "Fjord",
    "Polar",
    "Nordlys",
    "Fjell",
    "Skandinavisk",
    "Midtnorsk",
    "Trønder",
    "Malvik",
    "Orkdal",
    "Leksvik",
    "Byneset",
    "Tiller",
    "Heimdal",
)
SURNAMES = (
    "Aasen",
    "Berg",
    "Moen",
    "Lien",
    "Haugen",
    "Bakken",
    "Solberg",
    "Hansen",
    "Johansen",
    "Olsen",
    "Strand",
    "Dahl",
    "Lund",
    "Eggen",
    "Rønning",
    "Sæther",
    "Kvam",
    "Fossum",
    "Aune",
    "Hovde",
    "Storø",
    "Wold",
    "Brekke",
    "Hegre",
    "Nygård",
    "Øyen",
    "Sandvik",
    "Flatmo",
    "Kjelstad",
    "Græsli",
    "Mæhre",
    "Stenvik",
    "Lorentzen",
    "Wikan",
    "Holm",
    "Bjørgum",
)
COMPOUNDABLE = {
    "Bygg",
    "Data",
    "Kraft",
    "Energi",
    "Trelast",
    "Rør",
    "Elektro",
    "Kontor",
    "Papir",
    "Bil",
    "Auto",
    "Media",
    "Reklame",
    "Helse",
    "Omsorg",
    "Mat",
    "Renhold",
    "Vakt",
    "Transport",
    "Buss",
    "Taxi",
    "Fisk",
    "Olje",
    "Bemanning",
}
IKS = (
    ("Værnesregionen Renovasjon IKS", ("Renovasjon", "Tømming slam", "Avfallsgebyr")),
    ("Kommunerevisjon Midt IKS", ("Revisjonstjenester", "Forvaltningsrevisjon")),
    ("Stjørdalsdalen Brann og Redning IKS", ("Brann og redning", "Feiing og tilsyn")),
    ("Midt-Norge Arkiv IKS", ("Arkivtjenester", "Depotleie")),
    ("Værnes Legevakt IKS", ("Legevakt", "Interkommunal legevakt")),
)
STATE_BODIES = (
    ("Statens vegvesen", "300", ("Vegarbeid, refusjon", "Skilting")),
    ("Kartverket", "300", ("Tinglysingsgebyr", "Kartdata")),
    ("Statsforvalteren i Trøndelag", "300", ("Kurs og samlinger", "Gebyr")),
    ("Trøndelag fylkeskommune", "330", ("Skoleskyss, refusjon", "Tannhelsetjenester")),
)
NEIGHBOURS = ("Trondheim", "Levanger", "Malvik", "Midtre Gauldal", "Røros")
ASSOCIATIONS = (
    "{} Idrettslag",
    "{} Skilag",
    "{} Musikkorps",
    "{} Historielag",
    "{} Sanitetsforening",
    "{} Pensjonistforening",
    "{} Bygdekvinnelag",
)

# --- helpers ------------------------------------------------------------------------------


def _cumulative(weights: Sequence[float]) -> list[float]:
    total = float(sum(weights))
    cumulative = [w / total for w in accumulate(weights)]
    cumulative[-1] = 1.0
    return cumulative


def _month_key(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def _month_bounds(year: int, month: int) -> tuple[date, date]:
    first = date(year, month, 1)
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


def _business_days(year: int, month: int) -> list[tuple[str, str]]:
    """(ISO date, dd.mm.yyyy) of every weekday of the month."""
    first, last = _month_bounds(year, month)
    days = []
    day = first
    while day <= last:
        if day.weekday() < 5:
            days.append((day.isoformat(), day.strftime("%d.%m.%Y")))
        day += timedelta(days=1)
    return days


def _money(cents: int) -> str:
    """An amount in whole cents (øre) as a decimal with two places, without floats."""
    kroner, ore = divmod(abs(cents), 100)
    return f"-{kroner}.{ore:02d}" if cents < 0 else f"{kroner}.{ore:02d}"


def _departments(member: DemoMember, key: str) -> tuple[tuple[str, ...], list[float]]:
    """The responsibility codes a member posts a kind of purchase on, with cumulative weights."""
    mix = DEPARTMENT_MIX.get(key.split(".")[0], (("1000", 1.0),))
    codes, weights = [], []
    for area, weight in mix:
        units = DEPARTMENTS[member.id][area]
        codes += units
        weights += [weight / len(units)] * len(units)
    return tuple(codes), _cumulative(weights)


def _estimate(amount: float) -> str:
    """An estimate as a tender writes it: a whole amount to three significant digits."""
    digits = max(0, int(math.floor(math.log10(amount))) - 2)
    return str(int(round(amount / 10**digits)) * 10**digits)


def _cpv_forms(code: str) -> tuple[str, ...]:
    """How an invoice writes a CPV code: with the check digit where it is known."""
    check = CPV_CHECK.get(code)
    return (f"{code}-{check}", code) if check else (code,)


# --- the supplier world -------------------------------------------------------------------


@dataclass
class _Supplier:
    name: str
    org_no: str  # as registered ('' when missing; may be malformed or fail the checksum)
    category: str  # main category (a leaf) or kind of posting
    weight: float = 1.0
    currency: str = "NOK"
    member: str | None = None
    descriptions: tuple[str, ...] = ()
    written: list[str] = field(default_factory=list)  # org. number as each member's ERP writes it
    cpv_form: int = -1  # 0: writes CPV codes with the check digit (where known), -1: without


@dataclass
class _Agreement:
    spec: _AgreementSpec
    suppliers: list[_Supplier]

    def active_for(self, member_id: str, first: date, last: date) -> bool:
        spec = self.spec
        joins = spec.participants == ("*",) or member_id in spec.participants
        return joins and spec.valid_from <= first and last <= spec.valid_to


class _World:
    """All suppliers, agreements and pools, derived from the seed."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used_org_nos: set[str] = set()
        self.used_names: set[str] = set()
        self.general: dict[str, list[_Supplier]] = {leaf: [] for leaf in LEAVES}
        self.local: dict[tuple[str, str], list[_Supplier]] = {}
        self.all: list[_Supplier] = []
        self._make_general()
        self._make_local()
        self.municipality = {
            m.id: self._add(_Supplier(f"{m.name} kommune", self.org_no(), "kommune"))
            for m in MEMBERS
        }
        self.neighbours = [
            self._add(_Supplier(f"{n} kommune", self.org_no(), "kommune")) for n in NEIGHBOURS
        ]
        self.iks = [
            self._add(_Supplier(name, self.org_no(), "iks", descriptions=d)) for name, d in IKS
        ]
        self.iks[0].weight = 3.0  # the waste company owned by the members collects the waste
        self.general["renhold.avfall"].append(self.iks[0])
        self.state = [
            (self._add(_Supplier(name, self.org_no(), "stat", descriptions=d)), art)
            for name, art, d in STATE_BODIES
        ]
        self.landlords = [
            self._add(_Supplier(n, self.org_no(), "husleie"))
            for n in (
                "Trøndelag Næringseiendom AS",
                "Værnes Eiendom AS",
                "Midt-Norge Bygg og Eiendom AS",
            )
        ]
        self.local_landlords = {
            m.id: [
                self._add(
                    _Supplier(
                        f"{m.places[i % len(m.places)]} {kind} AS",
                        self.org_no(),
                        "husleie",
                        member=m.id,
                    )
                )
                for i, kind in enumerate(("Eiendom", "Næringsbygg"))
            ]
            for m in MEMBERS
        }
        self.associations = {
            m.id: [
                self._add(
                    _Supplier(
                        pattern.format(m.places[i % len(m.places)]),
                        "" if i == 4 else self.org_no(),
                        "forening",
                        member=m.id,
                    )
                )
                for i, pattern in enumerate(ASSOCIATIONS)
            ]
            for m in MEMBERS
        }
        self._make_foreign()
        self._make_irregular()
        self.agreements = self._make_agreements()
        self._cross_sell()
        self._write_forms()

    # organisation numbers and names

    def org_no(self) -> str:
        rng = self.rng
        while True:
            body = rng.choice("89") + "".join(rng.choice("0123456789") for _ in range(7))
            remainder = no_orgnr.checksum(body + "0")
            check = (11 - remainder) % 11
            if check == 10:
                continue
            number = body + str(check)
            if number not in self.used_org_nos and no_orgnr.is_valid(number):
                self.used_org_nos.add(number)
                return number

    def invalid_org_no(self) -> str:
        valid = self.org_no()
        wrong = valid[:8] + str((int(valid[8]) + 3) % 10)
        return wrong if not no_orgnr.is_valid(wrong) else wrong[:8] + str((int(valid[8]) + 5) % 10)

    def _add(self, supplier: _Supplier) -> _Supplier:
        self.used_names.add(supplier.name)
        self.all.append(supplier)
        return supplier

    def _name(self, leaf: str, place: str | None = None) -> str:
        rng = self.rng
        words = LEAVES[leaf].words
        for _ in range(200):
            word = rng.choice(words)
            prefix = place or rng.choice(REGION_WORDS)
            surname = rng.choice(SURNAMES)
            if leaf == "konsulent.juridisk":
                other = rng.choice(SURNAMES)
                name = rng.choice(
                    (
                        f"Advokatfirmaet {surname} & {other} AS",
                        f"Advokatfirma {surname} DA",
                        f"{prefix} Advokater AS",
                    )
                )
            else:
                style = rng.random()
                if style < 0.45:
                    name = f"{prefix} {word} AS"
                elif style < 0.7:
                    name = f"{surname} {word} AS"
                elif style < 0.8 and word in COMPOUNDABLE and not place:
                    name = f"{prefix.replace('-', '')}{word.lower()} AS"
                elif style < 0.9:
                    name = f"{surname} & {rng.choice(SURNAMES)} {word} AS"
                else:
                    name = f"{word} {prefix} {rng.choice(('AS', 'ANS', 'SA'))}"
            if name not in self.used_names:
                return name
        raise RuntimeError(f"no free supplier name for {leaf}")  # pragma: no cover

    def _make_general(self) -> None:
        for leaf, spec in LEAVES.items():
            for rank in range(spec.suppliers):
                supplier = _Supplier(
                    self._name(leaf), self.org_no(), leaf, weight=1.0 / (rank + 1) ** 0.8
                )
                self.general[leaf].append(self._add(supplier))

    def _make_local(self) -> None:
        for member in MEMBERS:
            for i, leaf in enumerate(LOCAL_LEAVES):
                place = member.places[i % len(member.places)]
                supplier = _Supplier(
                    self._name(leaf, place), self.org_no(), leaf, weight=0.6, member=member.id
                )
                self.local.setdefault((member.id, leaf), []).append(self._add(supplier))

    def _make_foreign(self) -> None:
        def se_org_no() -> str:
            body = "556" + "".join(self.rng.choice("0123456789") for _ in range(6))
            total = 0
            for i, digit in enumerate(reversed(body)):
                value = int(digit) * (2 if i % 2 == 0 else 1)
                total += value - 9 if value > 9 else value
            number = body + str((10 - total % 10) % 10)
            return f"{number[:6]}-{number[6:]}"

        for name, leaf, currency, org_no in (
            ("Nordic Lab Supplies AB", "helse.forbruk", "SEK", se_org_no()),
            ("Svenska Skolmaterial AB", "undervisning.materiell", "SEK", se_org_no()),
            ("Medizintechnik Müller GmbH", "helse.utstyr", "EUR", ""),
            ("Lernwerk Didaktik GmbH", "undervisning.materiell", "EUR", ""),
        ):
            supplier = _Supplier(name, org_no, leaf, weight=0.05, currency=currency)
            self.general[leaf].append(self._add(supplier))
        self.foreign = {s.name: s for s in self.all if s.currency != "NOK"}

    def _make_irregular(self) -> None:
        """Suppliers whose organisation number is missing, malformed or fails the checksum."""
        self.irregular: dict[str, _Supplier] = {}
        for name, leaf, kind in (
            ("Kafé Torget", "mat.catering", "missing"),
            ("Snekker Ola Hegre", "bygg.vedlikehold", "missing"),
            ("Fjellstua Overnatting", "transport.reise", "missing"),
            ("Bygdas Elektro", "bygg.vedlikehold", "malformed"),
            ("Nordic Data Import", "it.hardware", "malformed"),
            ("Trønderkontor AS", "kontor.rekvisita", "checksum"),
            ("Midtnorsk Medisinsk Utstyr AS", "helse.utstyr", "checksum"),
            ("Stjørdal Maskin og Transport AS", "bygg.entreprise", "checksum"),
        ):
            org_no = {
                "missing": "",
                "malformed": "12345" if "Elektro" in name else "98765432",
                "checksum": self.invalid_org_no(),
            }[kind]
            supplier = _Supplier(name, org_no, leaf, weight=0.25)
            self.general[leaf].append(self._add(supplier))
            self.irregular[kind] = self.irregular.get(kind) or supplier

    def _make_agreements(self) -> list[_Agreement]:
        taken: dict[str, int] = {}
        agreements = []
        for spec in AGREEMENTS:
            leaf = spec.leaves[0]
            if spec.scope == "local":
                (member_id,) = spec.participants
                pool = self.local[(member_id, leaf)]
                local_taken = taken.get(f"{member_id}:{leaf}", 0)
                suppliers = pool[local_taken : local_taken + spec.suppliers]
                taken[f"{member_id}:{leaf}"] = local_taken + spec.suppliers
                for supplier in suppliers:
                    supplier.weight = 3.0  # the member's own agreement supplier is popular
            else:
                start = taken.get(leaf, 0)
                eligible = [
                    s
                    for s in self.general[leaf]
                    if s.currency == "NOK" and no_orgnr.is_valid(s.org_no)
                ]
                suppliers = eligible[start : start + spec.suppliers]
                taken[leaf] = start + spec.suppliers
            if len(suppliers) != spec.suppliers:  # pragma: no cover - a spec error
                raise RuntimeError(f"{spec.id}: not enough suppliers in {leaf}")
            if spec.valid_from.day != 1 or (spec.valid_to + timedelta(days=1)).day != 1:
                raise RuntimeError(f"{spec.id}: the demo needs month-aligned validity")
            agreements.append(_Agreement(spec, suppliers))
        return agreements

    def _cross_sell(self) -> None:
        for leaf, targets in CROSS_SELL.items():
            first = next(a for a in self.agreements if leaf in a.spec.leaves)
            for target in targets:
                self.general[target].append(first.suppliers[0])

    def _write_forms(self) -> None:
        """Each member's ERP has its own supplier register: the number as it was typed."""
        rng = self.rng
        forms = (
            (0.85, lambda n: n),
            (0.06, lambda n: f"{n[:3]} {n[3:6]} {n[6:]}"),
            (0.06, lambda n: f"NO{n}MVA"),
            (0.03, lambda n: f"NO {n[:3]} {n[3:6]} {n[6:]} MVA"),
        )
        cumulative = _cumulative([w for w, _ in forms])
        for supplier in self.all:
            written = []
            for _ in MEMBERS:
                number = supplier.org_no
                if len(number) == 9 and number.isdigit():
                    number = forms[bisect(cumulative, rng.random())][1](number)
                written.append(number)
            supplier.written = written
            supplier.cpv_form = 0 if rng.random() < 0.5 else -1

    def supplier_rules(self) -> list[tuple[_Supplier, str]]:
        """(supplier, category) for the demo's supplier rules."""
        rules: list[tuple[_Supplier, str]] = []
        for agreement in self.agreements:
            if agreement.spec.scope == "local":
                continue
            for supplier in agreement.suppliers:
                if supplier.category in SUPPLIER_RULE_LEAVES and (
                    (supplier, supplier.category) not in rules
                ):
                    rules.append((supplier, supplier.category))
        rules.append((self.iks[0], "renhold.avfall"))  # posted on art 270 now and then
        rules.append((self.general["helse.tjenester"][0], "helse.tjenester"))
        return rules


# --- pools of suppliers per member and month -----------------------------------------------


@dataclass
class _Pool:
    covered: bool
    on: list[tuple[_Supplier, str]]  # agreement suppliers with the agreement id for contract_ref
    on_cumulative: list[float]
    off: list[_Supplier]
    off_cumulative: list[float]


def _on_suppliers(
    world: _World, member: DemoMember, year: int, month: int
) -> list[list[tuple[_Supplier, str]]]:
    """Per leaf, the suppliers of the agreements active for the member all month, each with
    the (first) agreement's id."""
    first, last = _month_bounds(year, month)
    active = [a for a in world.agreements if a.active_for(member.id, first, last)]
    result = []
    for leaf in LEAVES:
        on: dict[int, tuple[_Supplier, str]] = {}
        for agreement in active:
            if leaf in agreement.spec.leaves:
                for supplier in agreement.suppliers:
                    on.setdefault(id(supplier), (supplier, agreement.spec.id))
        result.append(list(on.values()))
    return result


def _leaf_pools(world: _World, member: DemoMember, year: int, month: int) -> list[_Pool]:
    pools = []
    for leaf, on_list in zip(LEAVES, _on_suppliers(world, member, year, month), strict=True):
        on = {id(s) for s, _ in on_list}
        candidates = world.general[leaf] + world.local.get((member.id, leaf), [])
        off = [s for s in candidates if id(s) not in on]
        pools.append(
            _Pool(
                covered=bool(on_list),
                on=on_list,
                on_cumulative=_cumulative([s.weight for s, _ in on_list]) if on_list else [],
                off=off,
                off_cumulative=_cumulative([_off_weight(s, leaf) for s in off]),
            )
        )
    return pools


def _off_weight(supplier: _Supplier, leaf: str) -> float:
    return supplier.weight if supplier.category == leaf else 0.5 * supplier.weight


def _other_pools(
    world: _World, member: DemoMember
) -> dict[str, list[tuple[_Supplier | None, float]]]:
    """Suppliers of the non-influenceable postings, per kind, with weights."""
    own = world.municipality[member.id]
    host = world.municipality[HOST]
    others = [world.municipality[m.id] for m in MEMBERS if m.id != member.id]
    if member.id == HOST:
        municipalities = [(s, 1.0) for s in others] + [(s, 1.5) for s in world.neighbours[:3]]
    else:
        municipalities = [(host, 6.0)] + [(s, 0.6) for s in world.neighbours[:3]]
    iks_weights = (5.0, 2.0, 2.0, 1.0, 2.0)
    return {
        "lonn": [(own if member.payroll_supplier else None, 1.0)],
        "husleie": [(s, 1.0) for s in world.landlords]
        + [(s, 2.0) for s in world.local_landlords[member.id]],
        "kjop_kommune": municipalities,
        "kjop_iks": list(zip(world.iks, iks_weights, strict=True)),
        "kjop_stat": [(s, 1.0) for s, art in world.state if art == "300"],
        "kjop_fylke": [(s, 1.0) for s, art in world.state if art == "330"],
        "overforing": [(s, 1.0) for s in world.associations[member.id]],
        "overf_iks": [(s, 1.0) for s in world.iks],
        "overf_kommune": [(host, 1.0)] if member.id != HOST else [(s, 1.0) for s in others],
        "ukjent": [(s, s.weight) for s in world.general["annet.diverse"][:8]],
    }


# --- writing spend files -----------------------------------------------------------------


def _account(member: DemoMember, art: str, sub: int) -> str:
    if not art:
        return ""
    style = member.account_style
    if style == "art+2":
        return f"{art}{sub % 100:02d}"
    if style == "art+3":
        return f"{art}{sub % 1000:03d}"
    if style == "art+4":
        return f"{art}{sub * 7 % 10000:04d}"
    return f"4{art}{sub % 100:02d}"  # "4+art+2": Meråker, art in characters 2-4


_THOUSANDS = str.maketrans({",": " ", ".": ","})
CANONICAL, SELBU, MERAKER = 0, 1, 2
_STYLES = {"canonical": CANONICAL, "visma-csv-selbu": SELBU, "erp-csv-meraker": MERAKER}


def _quote(text: str, delimiter: str) -> str:
    """A CSV cell as the csv module writes it with QUOTE_MINIMAL."""
    if delimiter in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


class _SpendFile:
    """One delivery: a member's invoice lines of one month, in that member's format.

    The generator appends finished text lines to `lines` (fields quoted with `quote`,
    which caches the quoting of names and descriptions); they are written in batches.
    """

    def __init__(self, path: Path, member: DemoMember, quoted: dict[str, str]):
        self.style = _STYLES[member.profile]
        erp = self.style != CANONICAL
        encoding, self.delimiter, self.newline = (
            ("cp1252", ";", "\r\n") if erp else ("utf-8", ",", "\n")
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(path, "w", encoding=encoding, newline="", buffering=1 << 20)  # noqa: SIM115
        header = ERP_COLUMNS[member.profile] if erp else SPEND_COLUMNS
        self.handle.write(self.delimiter.join(header) + self.newline)
        self.lines: list[str] = []
        self.quoted = quoted

    def quote(self, text: str) -> str:
        cell = self.quoted.get(text)
        if cell is None:
            cell = self.quoted[text] = _quote(text, self.delimiter)
        return cell

    def flush(self) -> None:
        self.handle.write("".join(self.lines))
        self.lines.clear()

    def close(self) -> None:
        self.flush()
        self.handle.close()


# --- the generator ---------------------------------------------------------------------


@dataclass
class _Kind:
    """A compiled leaf or other posting kind, ready for the hot loop."""

    key: str
    leaf_index: int | None
    mu: float
    sigma: float
    arts: tuple[str, ...]
    art_cumulative: list[float]
    subs: tuple[int, ...]
    codes: tuple[tuple[tuple[str, ...], str], ...]
    unspsc: tuple[tuple[str, str], ...]
    descriptions: tuple[str, ...]


def _compile_kinds() -> list[_Kind]:
    kinds = []
    for index, (leaf, spec) in enumerate(LEAVES.items()):
        arts = tuple(a for a, _ in spec.arts)
        kinds.append(
            _Kind(
                leaf,
                index,
                math.log(spec.median),
                spec.sigma,
                arts,
                _cumulative([w for _, w in spec.arts]),
                tuple(10 + (index * 3 + i) % 80 for i in range(len(arts))),
                tuple((_cpv_forms(code), text) for code, text in spec.codes),
                spec.unspsc,
                spec.descriptions or tuple(text for _, text in spec.codes),
            )
        )
    for index, (key, other) in enumerate(OTHERS.items()):
        arts = tuple(a for a, _ in other.arts)
        kinds.append(
            _Kind(
                key,
                None,
                math.log(other.median),
                other.sigma,
                arts,
                _cumulative([w for _, w in other.arts]),
                tuple(10 + (index * 7 + i * 3) % 80 for i in range(len(arts))),
                (),
                (),
                other.descriptions,
            )
        )
    return kinds


def _allocate(lines: int) -> dict[tuple[str, int, int], int]:
    """Lines per member and month: by population (dampened) and season, summing to `lines`."""
    weights = {}
    for member in MEMBERS:
        for year, month in MONTHS:
            weights[(member.id, year, month)] = (
                member.population**0.75 * SEASON[month - 1] * YEAR_GROWTH[year]
            )
    total = sum(weights.values())
    exact = {key: lines * w / total for key, w in weights.items()}
    counts = {key: int(value) for key, value in exact.items()}
    rest = lines - sum(counts.values())
    by_remainder = sorted(exact, key=lambda key: (counts[key] - exact[key], key))
    for key in by_remainder[:rest]:
        counts[key] += 1
    return counts


def _exchange_rates(rng: random.Random) -> dict[tuple[str, str], float]:
    rates = {}
    level = {"EUR": 11.55, "SEK": 1.01}
    step = {"EUR": 0.12, "SEK": 0.015}
    for year, month in MONTHS:
        for currency in ("EUR", "SEK"):
            level[currency] = round(level[currency] + rng.uniform(-1, 1) * step[currency], 4)
            rates[(currency, _month_key(year, month))] = level[currency]
    return rates


class _Generator:
    def __init__(
        self, out_dir: Path, seed: int, lines: int, progress: Callable[[int], None] | None
    ):
        self.out_dir = out_dir
        self.seed = seed
        self.lines = lines
        self.progress = progress
        self.rng = random.Random(seed)
        self.world = _World(self.rng)
        self.rates = _exchange_rates(self.rng)
        self.kinds = _compile_kinds()
        self.kind_index = {kind.key: i for i, kind in enumerate(self.kinds)}
        self.kind_cumulative = _cumulative(
            [spec.weight for spec in LEAVES.values()] + [o.weight for o in OTHERS.values()]
        )
        self.size_cumulative = _cumulative(INVOICE_SIZE_WEIGHTS)
        self.written = 0
        self.next_report = PROGRESS_EVERY
        self.sequence = 0
        self.orders = 0
        self.counts = _allocate(lines)
        # Departments, prices and duplicate invoices draw from their own stream, so that
        # they do not shift the rest of the demo.
        self.extra = random.Random(f"samkjop-demo-extras:{seed}")
        self.catalogue, self.price_rows = self._catalogue()
        self.carry: list[str] | None = None  # an invoice's lines to deliver again next month
        # Standard normal quantiles: amounts are exp(mu + sigma * z) with z drawn from here,
        # much faster than random.gauss in the hot loop and just as deterministic.
        unit = NormalDist()
        self.normal = [unit.inv_cdf((i + 0.5) / NORMAL_STEPS) for i in range(NORMAL_STEPS)]

    # the spend files

    def _catalogue(self) -> tuple[dict[tuple[int, int], tuple], list[tuple[str, ...]]]:
        """The price lists: per (supplier, leaf), per CPV code of the leaf, the supplier's
        items as (item number, 2024 price, 2025 price) in øre; and the price-list rows."""
        rng = random.Random(f"samkjop-demo-prices:{self.seed}")
        leaf_index = {leaf: i for i, leaf in enumerate(LEAVES)}
        catalogue: dict[tuple[int, int], tuple] = {}
        rows: list[tuple[str, ...]] = []
        for agreement in self.world.agreements:
            spec = agreement.spec
            if spec.id not in PRICED_AGREEMENTS:
                continue
            for rank, supplier in enumerate(agreement.suppliers):
                above = (
                    PRICE_ABOVE_SHARE_OVERCHARGER
                    if spec.id == "V-2022-03" and rank == len(agreement.suppliers) - 1
                    else PRICE_ABOVE_SHARE
                )
                number = rng.randrange(100, 900) * 1000
                for leaf in spec.leaves:
                    low, high = ITEM_PRICE_RANGE[leaf]
                    median = LEAVES[leaf].median
                    per_code = []
                    for _ in LEAVES[leaf].codes:
                        items = []
                        for _ in range(ITEMS_PER_CODE):
                            number += rng.randrange(1, 40)
                            price = median * math.exp(rng.uniform(math.log(low), math.log(high)))
                            step = 100 if price >= 1000 else 10  # whole kroner, or 10 øre
                            first = max(step, round(price * 100 / step) * step)
                            second = round(first * rng.uniform(1.025, 1.045) / 10) * 10
                            items.append((str(number), first, second, leaf in BY_WEIGHT_LEAVES))
                            rows.append(
                                (
                                    spec.id,
                                    supplier.org_no,
                                    str(number),
                                    _money(first),
                                    "NOK",
                                    spec.valid_from.isoformat(),
                                    "2024-12-31",
                                )
                            )
                            rows.append(
                                (
                                    spec.id,
                                    supplier.org_no,
                                    str(number),
                                    _money(second),
                                    "NOK",
                                    "2025-01-01",
                                    spec.valid_to.isoformat(),
                                )
                            )
                        per_code.append(tuple(items))
                    catalogue[(id(supplier), leaf_index[leaf])] = (tuple(per_code), above)
        return catalogue, rows

    def spend(self) -> None:
        counts = self.counts
        for index, member in enumerate(MEMBERS):
            self._member(index, member, counts)
        if self.progress and self.written % PROGRESS_EVERY:
            self.progress(self.written)

    def _file_name(self, member: DemoMember, year: int, month: int) -> Path:
        folder = self.out_dir / "spend" / member.id
        if member.profile == "visma-csv-selbu":
            return folder / f"Selbu_fakturaer_{year}-{month:02d}.csv"
        if member.profile == "erp-csv-meraker":
            return folder / f"meraker_innkjop_{year}{month:02d}.csv"
        return folder / f"{member.id}_{year}-{month:02d}.csv"

    def _member(
        self, index: int, member: DemoMember, counts: dict[tuple[str, int, int], int]
    ) -> None:
        others = {
            key: (pool, _cumulative([w for _, w in pool]))
            for key, pool in _other_pools(self.world, member).items()
        }
        history: deque[tuple] = deque(maxlen=256)  # earlier lines that a credit note may reverse
        quoted: dict[str, str] = {}  # names and descriptions as CSV cells, for this member's format
        delimiter = ";" if member.profile != "canonical" else ","
        table = self._kind_table(member, lambda text: _quote(text, delimiter))
        self.orders = 0
        self.carry = None
        resent = set(self.extra.sample(range(len(MONTHS) - 1), RESENT_INVOICES))
        same_amount = set(self.extra.sample(range(len(MONTHS)), SAME_AMOUNT_INVOICES))
        for number, (year, month) in enumerate(MONTHS):
            if month == 1:
                self.sequence = 0  # voucher numbers restart each year; the year is in the id
            pools = _leaf_pools(self.world, member, year, month)
            spend_file = _SpendFile(self._file_name(member, year, month), member, quoted)
            pending: deque[tuple] = deque(maxlen=256)
            try:
                self._month(
                    spend_file,
                    member,
                    index,
                    year,
                    month,
                    counts[(member.id, year, month)],
                    pools,
                    others,
                    table,
                    history,
                    pending,
                    number in resent,
                    number in same_amount,
                )
            finally:
                spend_file.close()
            history.extend(pending)
        self.carry = None

    def _specials(
        self, member: DemoMember, year: int, month: int
    ) -> list[tuple[_Supplier | None, str]]:
        """Invoices that must exist at any size: irregular numbers, foreign currency."""
        world = self.world
        specials = []
        if (year, month) == (2024, 2):
            specials += [
                (world.irregular[k], world.irregular[k].category)
                for k in ("missing", "malformed", "checksum")
            ]
        if (year, month) == (2025, 7) and member.id in (HOST, "5034"):
            specials.append((world.foreign["Nordic Lab Supplies AB"], "helse.forbruk"))
        if (year, month) in ((2024, 3), (2025, 3)) and member.id == HOST:
            specials.append((world.foreign["Medizintechnik Müller GmbH"], "helse.utstyr"))
        if (year, month) == (2024, 5) and member.id in ("5036", "5034"):
            specials.append((None, "ukjent"))
        return specials

    def _kind_table(self, member: DemoMember, quote: Callable[[str], str]) -> list[tuple]:
        """Per kind, everything the hot loop needs, with accounts and cells for this member."""
        table = []
        for kind in self.kinds:
            accounts = tuple(
                _account(member, art, sub) for art, sub in zip(kind.arts, kind.subs, strict=True)
            )
            codes = tuple((forms, text, quote(text)) for forms, text in kind.codes)
            unspsc = tuple((code, text, quote(text)) for code, text in kind.unspsc)
            texts = tuple((text, quote(text)) for text in kind.descriptions)
            by_art = {
                art: (PAYROLL_DESCRIPTIONS[art], quote(PAYROLL_DESCRIPTIONS[art]))
                for art in kind.arts
                if art in PAYROLL_DESCRIPTIONS
            }
            departments, department_cumulative = _departments(member, kind.key)
            table.append(
                (
                    kind.leaf_index,
                    kind.mu,
                    kind.sigma,
                    kind.arts,
                    kind.art_cumulative,
                    accounts,
                    codes,
                    len(codes),
                    unspsc,
                    texts,
                    by_art,
                    departments,
                    department_cumulative,
                )
            )
        return table

    def _month(
        self,
        out: _SpendFile,
        member: DemoMember,
        index: int,
        year: int,
        month: int,
        n: int,
        pools: list[_Pool],
        others: dict,
        table: list[tuple],
        history: deque,
        pending: deque,
        resend: bool = False,
        same_amount: bool = False,
    ) -> None:
        """Write `n` lines of one member and month. The hot loop: keep it lean.

        `resend`: keep one invoice's lines in `self.carry`, to be delivered again at the end
        of the next month's file; `same_amount`: send one invoice a second time a few days
        later under a new invoice number. Both come out of the `n` lines."""
        rng = self.rng
        random_ = rng.random
        extra = self.extra.random
        exp = math.exp
        normal = self.normal
        n_normal = len(normal)
        kind_cumulative = self.kind_cumulative
        size_cumulative = self.size_cumulative
        days = _business_days(year, month)
        n_days = len(days)
        month_key = _month_key(year, month)
        loyalty = member.loyalty
        unspsc_ok = member.profile != "visma-csv-selbu"  # Selbu's export knows only CPV
        specials = self._specials(member, year, month)
        style = out.style
        lines = out.lines
        append = lines.append
        quote = out.quote
        quoted = out.quoted
        mid = member.id
        places = member.places
        empty_nok = mid == "5033"  # Tydal's ERP leaves the currency empty for NOK
        with_refs = mid != "5026"  # Holtålen's export has no order or contract references
        prefix = f"MK{year % 100:02d}-" if style == MERAKER else str(year)
        catalogue = self.catalogue if style == CANONICAL else {}
        price_slot = 1 if year < 2025 else 2
        sequence = self.sequence
        written = self.written
        left = n
        carry, self.carry = self.carry, None
        if carry and len(carry) <= left:
            left -= len(carry)
        else:
            carry = None
        # the invoice to deliver again / to send twice is the first suitable one once only
        # `watch_*` lines are left to write (-1: none this month)
        watch_resend = int(left * (0.2 + 0.6 * extra())) if resend else -1
        watch_double = int(left * (0.2 + 0.6 * extra())) if same_amount else -1
        watch = max(watch_resend, watch_double)
        first_day = n_days  # the earliest invoice date index written so far this month
        while left > 0:
            if len(lines) >= 4096:
                out.flush()
            sequence += 1
            invoice_id = f"{prefix}{sequence:06d}"
            day = int(random_() * n_days)
            if day < first_day:
                first_day = day
            dates = days[day]
            if history and random_() < CREDIT_NOTE_SHARE:
                self._credit_note(out, index, history, invoice_id, dates, empty_nok, with_refs)
                left -= 1
                written += 1
                continue
            size = INVOICE_SIZES[bisect(size_cumulative, random_())]
            if size > left:
                size = left
            contract_ref = order_ref = ""
            on_agreement = False
            if specials:
                supplier, key = specials.pop()
                k = self.kind_index[key]
                size = 1
                if supplier is None:
                    supplier = others[key][0][0][0]
            else:
                k = bisect(kind_cumulative, random_())
                leaf_index = table[k][0]
                if leaf_index is not None:
                    pool = pools[leaf_index]
                    if pool.covered and random_() < loyalty:
                        supplier, contract_ref = pool.on[bisect(pool.on_cumulative, random_())]
                        on_agreement = True
                    else:
                        supplier = pool.off[bisect(pool.off_cumulative, random_())]
                else:
                    pool_other, cumulative = others[self.kinds[k].key]
                    supplier = pool_other[bisect(cumulative, random_())][0]
            (
                leaf_index,
                mu,
                sigma,
                arts,
                art_cumulative,
                accounts,
                codes,
                n_codes,
                unspsc,
                texts,
                by_art,
                departments,
                department_cumulative,
            ) = table[k]
            department = departments[bisect(department_cumulative, extra())]
            priced = None
            if on_agreement:
                if random_() < 0.45:
                    self.orders += 1
                    order_ref = f"EH-{mid}-{self.orders:06d}"
                if random_() < 0.5:
                    contract_ref = ""
                code_share = 0.5
                if catalogue:
                    priced = catalogue.get((id(supplier), leaf_index))
            else:
                code_share = 0.25 if leaf_index is not None else 0.0
            if not with_refs:
                order_ref = contract_ref = ""
            form = -1
            if supplier is None:
                org_no = name = ""
                currency = "NOK"
            else:
                org_no = supplier.written[index]
                name = quoted.get(supplier.name) or quote(supplier.name)
                currency = supplier.currency
                form = supplier.cpv_form
                if supplier.descriptions:
                    texts = tuple((text, quote(text)) for text in supplier.descriptions)
            rate = self.rates[(currency, month_key)] if currency != "NOK" else 1.0
            currency_cell = "" if empty_nok and currency == "NOK" else currency
            single_art = len(arts) == 1
            keep = leaf_index is not None and random_() < 0.2  # a candidate for a credit note
            start = len(lines)
            for line_no in range(1, size + 1):
                amount = exp(mu + sigma * normal[int(random_() * n_normal)])
                if amount < 1.0:
                    amount += 1.0
                if rate != 1.0:
                    amount /= rate
                if single_art:
                    art = arts[0]
                    account = accounts[0]
                else:
                    i = bisect(art_cumulative, random_())
                    art = arts[i]
                    account = accounts[i]
                item_code = scheme = ""
                if n_codes:
                    code_index = int(random_() * n_codes)
                    forms, description, cell = codes[code_index]
                    if random_() < code_share:
                        if unspsc and unspsc_ok and random_() < 0.08:
                            item_code, description, cell = unspsc[int(random_() * len(unspsc))]
                            scheme = "UNSPSC"
                        else:
                            item_code = forms[form]
                            scheme = "CPV"
                elif art in by_art:
                    description, cell = by_art[art]
                else:
                    description, cell = texts[int(random_() * len(texts))]
                if style == CANONICAL:
                    # tail: department, seller_item_id, quantity, unit_price (format v1.1)
                    # and an empty local_supplier_id (v1.2: the demo's ERPs give none)
                    if priced is not None and extra() < PRICED_SHARE:
                        amount, amount_cell, tail = self._priced_line(
                            priced, code_index, price_slot, amount, department
                        )
                    else:
                        amount_cell = f"{amount:.2f}"
                        tail = f"{department},,,"
                    append(
                        f"{mid},{invoice_id},{line_no},{dates[0]},{org_no},{name},{account},"
                        f"{art},{amount_cell},{currency_cell},{item_code},{scheme},{cell},"
                        f"{order_ref},{contract_ref},{tail},\n"
                    )
                else:
                    if random_() < 0.02:
                        place = places[int(random_() * len(places))]
                        cell = _quote(f"{description}; {place}", ";")
                    if style == SELBU:
                        amount_cell = f"{amount:.2f}".replace(".", ",")
                        append(
                            f"{invoice_id};{line_no};{dates[1]};{org_no};{name};{account};"
                            f"{department};{amount_cell};{currency};{item_code};{cell};"
                            f"{order_ref};{contract_ref}\r\n"
                        )
                    else:
                        amount_cell = f"{amount:,.2f}".translate(_THOUSANDS)
                        append(
                            f"{invoice_id};{line_no};{dates[1]};{org_no};{name};{account};"
                            f"{department};{amount_cell};{currency};{scheme};{item_code};"
                            f"{cell};{order_ref};{contract_ref}\r\n"
                        )
                if keep:
                    pending.append(
                        (
                            invoice_id,
                            org_no,
                            name,
                            account,
                            art,
                            amount,
                            currency,
                            item_code,
                            scheme,
                            description,
                            order_ref,
                            contract_ref,
                            department,
                        )
                    )
                    keep = False
            if (
                left <= watch
                and leaf_index is not None
                and supplier is not None
                and currency == "NOK"
            ):
                invoice_lines = lines[start:]
                if left <= watch_resend and day > first_day:
                    # dated after the earliest invoice of this month's file, so the next
                    # file's first..last dates never enclose this file's (no replacement)
                    self.carry = invoice_lines
                    watch_resend = -1
                elif left <= watch_double and left >= 2 * size:
                    sequence += 1
                    again = f"{prefix}{sequence:06d}"
                    later = day + 1 + int(extra() * 4)
                    dates = days[later if later < n_days else max(0, 2 * day - later)]
                    for text in invoice_lines:
                        if style == CANONICAL:
                            _, _, number, _, rest = text.split(",", 4)
                            append(f"{mid},{again},{number},{dates[0]},{rest}")
                        else:
                            _, number, _, rest = text.split(";", 3)
                            append(f"{again};{number};{dates[1]};{rest}")
                    left -= size
                    written += size
                    watch_double = -1
                watch = max(watch_resend, watch_double)
            left -= size
            written += size
            if written >= self.next_report:
                self.written = written
                self._count(0)
        self.sequence = sequence
        self.written = written
        if carry:
            lines.extend(carry)
            self._count(len(carry))

    def _priced_line(
        self, priced: tuple, code_index: int, slot: int, amount: float, department: str
    ) -> tuple[float, str, str]:
        """A line at a price-list item: quantity x unit price, the price sometimes off.

        Prices are in øre and multiples of 10 øre, so that a weight in tenths of a kg times
        the price is a whole number of øre: the amount is exactly quantity x unit price."""
        extra = self.extra.random
        items, above = priced
        options = items[code_index]
        item_id, *prices, by_weight = options[int(extra() * len(options))]
        unit = prices[slot - 1]
        draw = extra()
        if draw < above:
            unit = round(unit * (1.03 + 0.12 * extra()) / 10) * 10
        elif draw < above + PRICE_BELOW_SHARE:
            unit = round(unit * (0.995 - 0.025 * extra()) / 10) * 10
        if by_weight:
            tenths = max(1, round(amount * 1000 / unit))
            cents = tenths * (unit // 10)
            quantity = f"{tenths // 10}.{tenths % 10}"
        else:
            count = max(1, round(amount * 100 / unit))
            cents = count * unit
            quantity = str(count)
        return cents / 100, _money(cents), f"{department},{item_id},{quantity},{_money(unit)}"

    def _credit_note(
        self,
        out: _SpendFile,
        index: int,
        history: deque,
        invoice_id: str,
        dates: tuple[str, str],
        empty_nok: bool,
        with_refs: bool,
    ) -> None:
        """A credit note that reverses (all or part of) an earlier invoice line."""
        rng = self.rng
        (
            original_id,
            org_no,
            name,
            account,
            art,
            amount,
            currency,
            item_code,
            scheme,
            description,
            order_ref,
            contract_ref,
            department,
        ) = history[int(rng.random() * len(history))]
        if rng.random() < 0.25:
            amount = max(amount * rng.uniform(0.1, 0.6), 0.01)
        amount = -amount
        cell = _quote(f"Kreditnota til {original_id}: {description}", out.delimiter)
        if out.style == CANONICAL:
            refs = f"{order_ref},{contract_ref}" if with_refs else ","
            currency_cell = "" if empty_nok and currency == "NOK" else currency
            out.lines.append(
                f"{MEMBERS[index].id},{invoice_id},1,{dates[0]},{org_no},{name},"
                f"{account},{art},{amount:.2f},{currency_cell},{item_code},{scheme},"
                f"{cell},{refs},{department},,,,\n"  # v1.1 tail and an empty v1.2 field
            )
        elif out.style == SELBU:
            amount_cell = f"{amount:.2f}".replace(".", ",")
            out.lines.append(
                f"{invoice_id};1;{dates[1]};{org_no};{name};{account};{department};"
                f"{amount_cell};{currency};{item_code};{cell};{order_ref};"
                f"{contract_ref}\r\n"
            )
        else:
            amount_cell = f"{amount:,.2f}".translate(_THOUSANDS)
            out.lines.append(
                f"{invoice_id};1;{dates[1]};{org_no};{name};{account};{department};"
                f"{amount_cell};{currency};{scheme};{item_code};{cell};{order_ref};"
                f"{contract_ref}\r\n"
            )

    def _count(self, n: int) -> None:
        self.written += n
        if self.written >= self.next_report:
            if self.progress:
                self.progress(self.written)
            self.next_report = (self.written // PROGRESS_EVERY + 1) * PROGRESS_EVERY

    # the small files

    def agreements(self) -> None:
        volumes = self._expected_volumes()
        rng = random.Random(f"samkjop-demo-volumes:{self.seed}")
        with open(self.out_dir / "agreements.csv", "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(AGREEMENT_COLUMNS)
            for agreement in self.world.agreements:
                spec = agreement.spec
                numbers = [s.org_no for s in agreement.suppliers]
                if spec.id == "V-2022-07":  # typed by hand in the register
                    numbers[0] = f"{numbers[0][:3]} {numbers[0][3:6]} {numbers[0][6:]}"
                # the tender's estimate: what the generator aims for, give or take
                factor = rng.uniform(0.85, 1.2)
                volume = volumes.get(spec.id, 0.0) * factor
                writer.writerow(
                    (
                        spec.id,
                        spec.name,
                        spec.scope,
                        ";".join(spec.leaves),
                        ";".join(numbers),
                        ";".join(spec.participants),
                        spec.valid_from.isoformat(),
                        spec.valid_to.isoformat(),
                        spec.provision,
                        "" if spec.id in NO_VOLUME_ESTIMATE or volume < 1 else _estimate(volume),
                    )
                )
        path = self.out_dir / PRICE_LIST_PATH
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(PRICE_LIST_COLUMNS)
            writer.writerows(self.price_rows)
        with open(
            self.out_dir / SUPPLIER_REGISTER_PATH, "w", encoding="utf-8", newline=""
        ) as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(SUPPLIER_REGISTER_COLUMNS)
            person_org_nos = {
                supplier_id: self._person_org_no(index)
                for index, supplier_id in enumerate(DEMO_PERSON_SUPPLIERS)
            }
            for supplier_id, name, alias_type, alias in DEMO_SUPPLIER_REGISTER:
                row = {"supplier_id": supplier_id, "supplier_name": name}
                row |= {"alias_type": alias_type, "alias": alias}
                if supplier_id in person_org_nos:
                    row |= {"org_no": person_org_nos[supplier_id], "is_person": "true"}
                writer.writerow([row.get(column, "") for column in SUPPLIER_REGISTER_COLUMNS])

    def _person_org_no(self, index: int) -> str:
        """The organisation number of the register's `index`-th person supplier (an ENK):
        the first valid number from a fixed start that no demo supplier has, so that the
        generator's random draws (and every other figure of the demo) stay as they were."""
        candidate = 921_000_000 + 1_000 * index
        while True:
            number = str(candidate)
            if no_orgnr.is_valid(number) and number not in self.world.used_org_nos:
                return number
            candidate += 1

    def _expected_volumes(self) -> dict[str, float]:
        """Per agreement, the on-agreement spend per year that the generator aims for at
        this number of lines: expected lines per member, month and leaf, times the expected
        line amount, the member's loyalty and the agreement's share of the agreement
        suppliers' weight; over the months the agreement is active, times 12."""
        mean_size = sum(
            s * w for s, w in zip(INVOICE_SIZES, INVOICE_SIZE_WEIGHTS, strict=True)
        ) / sum(INVOICE_SIZE_WEIGHTS)
        regular = (1 - CREDIT_NOTE_SHARE) * mean_size
        invoice_line_share = regular / (regular + CREDIT_NOTE_SHARE)
        kinds = sum(s.weight for s in LEAVES.values()) + sum(o.weight for o in OTHERS.values())
        per_line = [s.weight / kinds * s.median * math.exp(s.sigma**2 / 2) for s in LEAVES.values()]
        spend: dict[str, float] = defaultdict(float)
        months: dict[str, set] = defaultdict(set)
        for member in MEMBERS:
            for year, month in MONTHS:
                lines = self.counts[(member.id, year, month)] * invoice_line_share
                for leaf, on in enumerate(_on_suppliers(self.world, member, year, month)):
                    total = sum(s.weight for s, _ in on)
                    for supplier, agreement_id in on:
                        spend[agreement_id] += (
                            lines * per_line[leaf] * member.loyalty * supplier.weight / total
                        )
                        months[agreement_id].add((year, month))
        return {a: amount * 12 / len(months[a]) for a, amount in spend.items()}

    def reference(self) -> None:
        rules = default_reference_file("classification_rules").read_text(encoding="utf-8")
        with open(
            self.out_dir / "classification_rules.csv", "w", encoding="utf-8", newline=""
        ) as handle:
            handle.write(rules if rules.endswith("\n") else rules + "\n")
            writer = csv.writer(handle, lineterminator="\n")
            for supplier, category in self.world.supplier_rules():
                writer.writerow(("supplier", supplier.org_no, category))
        with open(self.out_dir / "exchange_rates.csv", "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(("currency", "month", "rate_to_base", "source"))
            for (currency, month), rate in sorted(self.rates.items()):
                if (currency, month) != MISSING_RATE:
                    writer.writerow(
                        (
                            currency,
                            month,
                            f"{rate:.4f}",
                            "demo: illustrative rate, not an official rate",
                        )
                    )
        with open(
            self.out_dir / "excluded_suppliers.csv", "w", encoding="utf-8", newline=""
        ) as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(("supplier_org_no", "reason"))
            iks_reason = (
                "Interkommunalt selskap eid av medlemskommunene; kjøp fra egne IKS "
                "er ikke anskaffelser etter regelverket (demo)"
            )
            writer.writerow((self.world.iks[0].org_no, iks_reason))
            writer.writerow((self.world.iks[1].org_no, iks_reason))
            writer.writerow(
                (
                    self.world.municipality[HOST].org_no,
                    "Vertskommunen; tjenester etter vertskommuneavtale er ikke anskaffelser (demo)",
                )
            )

    def cooperation_yml(self) -> Path:
        lines = [
            f"# Demo data generated by samkjop demo --seed {self.seed}",
            "# Synthetic data for trying Samkjøp: see DEMO_DATA.md. Not real spend.",
            "cooperation:",
            '  name: "Værnesregionen innkjøp (demo)"',
            "  country: NO",
            "  currency: NOK",
            f'  host: "{HOST}"',
            "  targets:",
            "    loyalty: 0.8",
            f"  price_tolerance: {PRICE_TOLERANCE}   # invoiced unit price vs the price list",
            "  catch_all_payees:   # listed in possible_duplicate_payees instead of paired",
            f"    - '{OWN_PAYROLL_PAYEES}'   # members: payroll carries their own number",
            "warehouse: warehouse/samkjop.duckdb",
            "reference:",
            "  classification_rules: classification_rules.csv   # defaults + demo supplier rules",
            "  exchange_rates: exchange_rates.csv                # demo rates, not official",
            "  excluded_suppliers: excluded_suppliers.csv",
            "agreements:",
            "  - path: agreements.csv",
            "    profile: canonical",
            "price_lists:",
            f"  - path: {PRICE_LIST_PATH}",
            "supplier_registers:   # suppliers without a valid organisation number",
            f"  - path: {SUPPLIER_REGISTER_PATH}",
            "municipalities:",
        ]
        for member in MEMBERS:
            lines += [
                f'  - id: "{member.id}"',
                f"    name: {member.name}",
                f"    population: {member.population}",
                "    spend:",
                f"      - path: spend/{member.id}/*.csv",
                f"        profile: {member.profile}",
            ]
        path = self.out_dir / "cooperation.yml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def readme(self) -> None:
        departments = ", ".join(f"{code} {DEPARTMENT_NAMES[code]}" for code in _AREA_CODES)
        host_2000, host_3000 = (
            " and ".join(f"{c} {DEPARTMENT_NAMES[c]}" for c in DEPARTMENTS[HOST][area])
            for area in ("2000", "3000")
        )
        expiring = ", ".join(
            a.spec.id
            for a in self.world.agreements
            if date(2026, 1, 1) <= a.spec.valid_to <= date(2026, 6, 30)
        )
        priced, price_columns = ", ".join(PRICED_AGREEMENTS), ",".join(PRICE_LIST_COLUMNS)
        above, often = PRICE_ABOVE_SHARE, PRICE_ABOVE_SHARE_OVERCHARGER
        names = {row[0]: row[1] for row in DEMO_SUPPLIER_REGISTER}
        persons = " and ".join(f'"{names[sid]}"' for sid in DEMO_PERSON_SUPPLIERS)
        person_org_nos = ", ".join(
            self._person_org_no(index) for index in range(len(DEMO_PERSON_SUPPLIERS))
        )
        text = f"""# DEMO DATA: synthetic, not real

Everything in this folder was generated by `samkjop demo --seed {self.seed} --lines {self.lines}`.
The municipalities are the real members of Værnesregionen innkjøp with their
populations, but **every invoice, amount, supplier, organisation number, agreement and
exchange rate is invented**. Organisation numbers have a valid check digit and nothing
more: any match with a real organisation is a coincidence. Do not use any figure from
this folder as a fact.

What the demo contains on purpose, so that every rule of the platform has work to do:

- `spend/<member>/`: one file per member and month, 2024-01 to 2025-12.
  Selbu (5032) and Meråker (5034) deliver their ERP's own shape: `;`-separated,
  Windows-1252, decimal comma, dd.mm.yyyy, Norwegian column names, no art column
  (the art is read from the account: Selbu characters 1-3, Meråker characters 2-4).
  Tydal leaves the currency empty for NOK; Holtålen has no order or contract references.
- Organisation numbers written as ERPs write them (`123 456 789`, `NO123456789MVA`),
  and a few suppliers with a missing, malformed or wrong-checksum number. The demo's
  supplier register (`agreements/supplier_register.csv`, `supplier_registers:` in
  `cooperation.yml`, invented like the rest) identifies {REGISTERED_SUPPLIERS} of them by
  their normalised name or a name pattern (BRIEF §4 rule 5); the others keep a `name:`
  key and can never be on an agreement. The register marks {persons} a private
  person (`is_person`: a sole proprietorship, ENK, named after its owner, with its own
  organisation number in the register, {person_org_nos}; its invoices carry none), with a
  small amount of spend: the economy council's dashboards and the annual report count it
  among the "private persons" and never name it; the procurement unit's exports do.
- Non-influenceable postings: payroll (010-099), rent (190), purchases from other
  municipalities, the state and inter-municipal companies (300/330/350/375),
  transfers (450/470/475), and some lines with an unknown (999) or empty art.
- Credit notes (negative lines) that reverse earlier invoices.
- Lines in EUR and SEK; `exchange_rates.csv` has illustrative demo rates with no rate
  for {MISSING_RATE[0]} {MISSING_RATE[1]}, so those lines are rejected for a missing rate.
- `classification_rules.csv` is the shipped default rules plus supplier rules for some
  demo suppliers; `excluded_suppliers.csv` excludes two inter-municipal companies and
  the host municipality (purchases under the host-municipality agreement).
- `agreements.csv`: national, cooperation and local agreements (names such as "SKI" or
  "DFØ" only say what kind of agreement it is; none of them is a real agreement, and
  the provision rates are illustrative); V-2020-18 expires
  2024-08-31, V-2025-21 starts 2025-03-01, V-2023-11 and V-2021-16 are joined by
  some members only; some categories have no agreement.
- The chance that a purchase in a covered category goes to an agreement supplier
  differs per member (Stjørdal high, Frosta low), so loyalty differs.
- Responsibility codes (ansvar): every line carries one, in the column `department`
  of the canonical files and `Ansvar` in Selbu's and Meråker's exports; one invoice is
  posted on one code. The codes and names are invented: {departments}.
  Stjørdal splits Oppvekst into {host_2000} and Helse og omsorg into {host_3000}.
- Price control: agreements {priced} have a price list,
  `{PRICE_LIST_PATH}` (`{price_columns}`;
  prices in NOK excluding VAT, one price per item for 2024 and an index-adjusted one,
  2.5-4.5 % higher, from 2025-01-01). On the canonical members' lines (Stjørdal, Tydal,
  Frosta, Holtålen) from those agreements' suppliers, about {PRICED_SHARE:.0%} carry the
  supplier's item number (`seller_item_id`), a whole `quantity` and a `unit_price`, with
  quantity x unit price = amount_excl_vat exactly. Most are at the agreed price; about
  {above:.0%} are invoiced 3-15 % above it (one food supplier of V-2022-03 does so on
  about {often:.0%} of its lines) and about {PRICE_BELOW_SHARE:.0%} 0.5-3 % below it.
  `cooperation.yml` sets `price_tolerance: {PRICE_TOLERANCE}` and lists the price list.
- Possible duplicate invoices: per member, {RESENT_INVOICES} invoices are delivered again
  in the next month's file (same invoice number, date, supplier, lines and amounts: a
  re-sent invoice), and {SAME_AMOUNT_INVOICES} invoices are sent a second time one to four
  working days later under a new invoice number (same supplier, lines and amounts). Both
  are real lines in the files and count in spend, as they would until someone catches them.
  Payroll postings of {", ".join(m.name for m in MEMBERS if m.payroll_supplier)} carry the
  member's own organisation number: `cooperation.yml` lists these members as catch-all
  payees (`catch_all_payees`), so payments to them (payroll, and purchases from a member) are
  in `possible_duplicate_payees`, not paired.
- `agreements.csv` has `estimated_annual_volume` (whole agreement, all participants, NOK
  per year excluding VAT) on all agreements but {", ".join(NO_VOLUME_ESTIMATE)}: the
  on-agreement spend per year that the generator aims for at this number of lines (expected lines x
  expected amount x the members' loyalty, over the months the agreement is active),
  times a random factor between 0.85 and 1.2 and rounded to three digits, as a tender's
  estimate would be. `provision_rate` (0.0225, as in the Lillestrøm strategy) is set on
  some cooperation agreements. Several agreements with spend in 2025 expire in the
  first half of 2026 ({expiring}), a few on 2025-12-31.
"""
        (self.out_dir / "DEMO_DATA.md").write_text(text, encoding="utf-8")


def generate_demo(
    out_dir: Path,
    seed: int = 42,
    lines: int = 300_000,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Write a demo cooperation to `out_dir` and return the path of its cooperation.yml.

    `lines` spend lines in total over 24 monthly deliveries per member; `progress` is
    called with the number of lines written about every 100 000 lines and at the end.
    """
    if lines < 0:
        raise ValueError("lines must be zero or more")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    generator = _Generator(out_dir, seed, lines, progress)
    generator.agreements()
    generator.reference()
    generator.spend()
    generator.readme()
    return generator.cooperation_yml()
