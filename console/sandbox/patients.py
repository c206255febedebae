"""Deterministic synthetic patients, and loading them into any FHIR server.

``generate_patients(count, seed)`` always returns the same FHIR Patient resources for the
same arguments: UK names (some with titles, middle names or a previous surname), addresses
with real-looking postcodes, NHS numbers from the 999 test range (Modulus 11 valid), a GP
practice, telecom from Ofcom's drama ranges, some next of kin, a few deceased patients.

``load_patients(client_or_base_url, patients)`` posts them in transaction Bundles with a
conditional create on the NHS number, so loading twice creates nothing new. It works against
the emulator and a real HAPI FHIR server alike.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from console.fhir.client import FhirClient
from console.fhir.errors import FhirMalformed
from console.nhs_number import NHS_NUMBER_SYSTEM, check_digit

REFERENCE_DATE = date(2025, 1, 1)
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
HOSPITAL_NUMBER_SYSTEM = "https://fhir.quill.example/Id/hospital-number"
NHS_NUMBER_VERIFICATION = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
)
NHS_NUMBER_VERIFICATION_SYSTEM = (
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland"
)
RELATIONSHIP_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0131"
ROLE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"

SURNAMES = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
    "Wood", "Jackson", "Clarke", "Khan", "Ahmed", "Singh", "Hughes", "Edwards", "Lewis",
    "Hill", "Harris", "Martin", "Cooper", "Ward", "Morris", "Turner", "King", "Baker",
    "Harrison", "Morgan", "Phillips", "Begum", "Hussain", "Kaur", "O'Brien", "Murphy",
    "MacDonald", "Campbell", "Stewart", "Anderson", "Scott", "Reid", "Kowalski", "Nowak",
    "Okafor", "Adeyemi", "Mensah", "Nguyen", "Chen", "Wong", "Fernandes", "Da Silva",
    "Bennett", "Carter", "Mitchell", "Shaw", "Lloyd", "Price", "Griffiths", "Jenkins",
    "Powell", "Owen", "Rees", "Parry", "Pritchard", "Marsh", "Fletcher", "Holmes",
    "Atkinson", "Booth", "Dixon", "Fox", "Gill", "Hart", "Knight", "Lamb", "Mills",
    "Sutton", "Wells", "Young", "Ellis", "Barker", "Chapman", "Doyle", "Fitzgerald",
    "Ó Súilleabháin", "Lefèvre", "Zieliński",
)  # fmt: skip
FEMALE_NAMES = (
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Grace", "Sophia", "Lily", "Emily", "Freya",
    "Margaret", "Susan", "Patricia", "Elizabeth", "Sarah", "Helen", "Jennifer", "Karen",
    "Joan", "Dorothy", "Aisha", "Fatima", "Priya", "Zara", "Siobhan", "Niamh", "Catrin",
    "Eilidh", "Chloe", "Jessica", "Hannah", "Rebecca", "Rachel", "Ruth", "Anne", "Mary",
    "Joyce", "Valerie", "Agnieszka", "Chioma", "Mei", "Ana", "Zoë", "Renée",
)  # fmt: skip
MALE_NAMES = (
    "Oliver", "George", "Harry", "Noah", "Jack", "Leo", "Arthur", "Muhammad", "Oscar",
    "Charlie", "John", "David", "Michael", "Peter", "Robert", "James", "William", "Richard",
    "Thomas", "Christopher", "Mohammed", "Ali", "Arjun", "Rhys", "Dylan", "Callum", "Euan",
    "Sean", "Ciaran", "Daniel", "Matthew", "Andrew", "Paul", "Mark", "Stephen", "Kenneth",
    "Brian", "Piotr", "Chukwuemeka", "Kwame", "Wei", "João", "Zoltán", "Rónán",
)  # fmt: skip
STREETS = (
    "High Street", "Station Road", "Church Lane", "Victoria Road", "Park Avenue", "Mill Lane",
    "Green Lane", "Manor Road", "Kings Road", "Queens Road", "School Lane", "The Crescent",
    "North Street", "Grange Road", "Springfield Road", "Orchard Close", "Chapel Street",
    "Meadow View", "Windsor Drive", "Albert Terrace", "York Road", "Castle Street",
    "Bridge Street", "Beech Grove", "Oak Avenue", "Elm Close", "Willow Way", "Mount Pleasant",
)  # fmt: skip
FLATS = ("Flat 1", "Flat 2", "Flat 3A", "Flat 12", "Apartment 4", "Flat 7")
# (town, postcode districts, landline prefix in Ofcom's drama range)
TOWNS = (
    ("Leeds", ("LS1", "LS6", "LS7", "LS8", "LS11", "LS17"), "0113 496 0"),
    ("Manchester", ("M1", "M4", "M13", "M14", "M20", "M21"), "0161 496 0"),
    ("Bristol", ("BS1", "BS3", "BS5", "BS6", "BS7", "BS16"), "0117 496 0"),
    ("Birmingham", ("B1", "B5", "B13", "B15", "B29", "B30"), "0121 496 0"),
    ("Sheffield", ("S1", "S2", "S7", "S10", "S11", "S17"), "0114 496 0"),
    ("Cardiff", ("CF10", "CF11", "CF14", "CF23", "CF24"), "029 2018 0"),
    ("Newcastle upon Tyne", ("NE1", "NE2", "NE4", "NE6", "NE15"), "0191 498 0"),
    ("London", ("E1", "E8", "N1", "N16", "SE15", "SW9", "W12"), "020 7946 0"),
    ("Nottingham", ("NG1", "NG2", "NG5", "NG7", "NG9"), "0115 496 0"),
    ("Glasgow", ("G1", "G3", "G11", "G12", "G41"), "0141 496 0"),
)  # fmt: skip
POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
GP_PRACTICES = (
    ("Y90001", "Riverside Medical Practice"),
    ("Y90002", "The Park Surgery"),
    ("Y90003", "Church View Health Centre"),
    ("Y90004", "Millbrook Family Practice"),
    ("Y90005", "Station Road Surgery"),
    ("Y90006", "Oakwood Medical Group"),
    ("Y90007", "Castle Gate Practice"),
    ("Y90008", "Meadowbank Health Centre"),
    ("Y90009", "Northgate Surgery"),
    ("Y90010", "Abbey Lane Medical Centre"),
    ("Y90011", "Harbour View Practice"),
    ("Y90012", "Elm Tree Surgery"),
)
GP_NAMES = (
    ("Dr", "Patel", "Anjali"), ("Dr", "Okonkwo", "Emeka"), ("Dr", "Hughes", "Sian"),
    ("Dr", "Fraser", "Alasdair"), ("Dr", "Lim", "Grace"), ("Dr", "Evans", "Tomos"),
    ("Dr", "Rahman", "Nadia"), ("Dr", "Walsh", "Declan"),
)  # fmt: skip
NICKNAMES = {
    "Richard": "Rick", "Elizabeth": "Liz", "Margaret": "Maggie", "William": "Bill",
    "Robert": "Bob", "Christopher": "Chris", "Jennifer": "Jenny", "Thomas": "Tom",
    "Michael": "Mike", "Rebecca": "Becky", "Patricia": "Pat", "Kenneth": "Ken",
    "Matthew": "Matt", "Andrew": "Andy", "Daniel": "Dan", "Susan": "Sue", "Dorothy": "Dot",
    "James": "Jim", "Stephen": "Steve", "Jessica": "Jess", "Valerie": "Val", "Peter": "Pete",
}  # fmt: skip
PARENTS = (("MTH", "mother", "female"), ("FTH", "father", "male"))
RELATIONSHIPS = (
    ("N", "Next-of-Kin", None),
    ("C", "Emergency Contact", None),
    ("N", "Next-of-Kin", ("SPS", "spouse")),
    ("N", "Next-of-Kin", ("DAU", "natural daughter")),
    ("N", "Next-of-Kin", ("SON", "natural son")),
    ("C", "Emergency Contact", ("FRND", "unrelated friend")),
)


def nhs_test_numbers(rng: random.Random) -> Any:
    """Yield distinct valid NHS numbers from the 999 test range, in an order set by ``rng``."""
    seen: set[str] = set()
    while True:
        first_nine = f"999{rng.randrange(1_000_000):06d}"
        digit = check_digit(first_nine)
        if digit is None:
            continue
        number = f"{first_nine}{digit}"
        if number in seen or len(set(number)) == 1:
            continue
        seen.add(number)
        yield number


def _postcode(rng: random.Random, districts: Sequence[str]) -> str:
    return (
        f"{rng.choice(districts)} {rng.randrange(10)}"
        f"{rng.choice(POSTCODE_LETTERS)}{rng.choice(POSTCODE_LETTERS)}"
    )


def _birth_date(rng: random.Random) -> date:
    band = rng.random()
    if band < 0.12:
        age_days = rng.randrange(0, 18 * 365)
    elif band < 0.70:
        age_days = rng.randrange(18 * 365, 65 * 365)
    else:
        age_days = rng.randrange(65 * 365, 101 * 365)
    return REFERENCE_DATE - timedelta(days=age_days)


def _title(rng: random.Random, gender: str, age: int) -> list[str]:
    if age < 16 or rng.random() < 0.35:
        return []
    if rng.random() < 0.06:
        return [rng.choice(("Dr", "Prof", "Rev"))]
    if gender == "male":
        return ["Mr"]
    if gender != "female":
        return ["Mx"]
    return [rng.choice(("Mrs", "Ms", "Miss"))]


def _phone(rng: random.Random, prefix: str) -> str:
    return f"{prefix}{rng.randrange(1000):03d}"


def _mobile(rng: random.Random) -> str:
    return f"07700 900{rng.randrange(1000):03d}"


def _contact(
    rng: random.Random, family: str, town: tuple[str, Sequence[str], str], minor: bool
) -> dict:
    role: tuple[str, str] | None
    if minor:
        code, display = "N", "Next-of-Kin"
        parent = rng.choice(PARENTS)
        role, gender = (parent[0], parent[1]), parent[2]
    else:
        code, display, role = rng.choice(RELATIONSHIPS)
        gender = rng.choice(("male", "female"))
    given = rng.choice(MALE_NAMES if gender == "male" else FEMALE_NAMES)
    relationship = [{"coding": [{"system": RELATIONSHIP_SYSTEM, "code": code, "display": display}]}]
    if role:
        relationship.append(
            {"coding": [{"system": ROLE_SYSTEM, "code": role[0], "display": role[1]}]}
        )
    contact_family = family if role and role[0] != "FRND" else rng.choice(SURNAMES)
    contact: dict[str, Any] = {
        "relationship": relationship,
        "name": {"use": "usual", "family": contact_family, "given": [given]},
        "telecom": [{"system": "phone", "value": _mobile(rng), "use": "mobile"}],
        "gender": gender,
    }
    if rng.random() < 0.4:
        contact["address"] = {
            "use": "home",
            "line": [f"{rng.randrange(1, 200)} {rng.choice(STREETS)}"],
            "city": town[0],
            "postalCode": _postcode(rng, town[1]),
            "country": "GB",
        }
    return contact


def generate_patients(count: int, seed: int = 42) -> list[dict[str, Any]]:
    """``count`` synthetic FHIR Patients; the same ``seed`` always gives the same patients."""
    if count < 0:
        raise ValueError("count must not be negative")
    rng = random.Random(seed)  # noqa: S311  (repeatable demo data, not secrets)
    numbers = nhs_test_numbers(rng)
    patients = []
    for _ in range(count):
        gender = rng.choices(("female", "male", "other", "unknown"), (49, 49, 1, 1))[0]
        pool = FEMALE_NAMES if gender == "female" else MALE_NAMES
        if gender in ("other", "unknown"):
            pool = FEMALE_NAMES + MALE_NAMES
        family = rng.choice(SURNAMES)
        given = [rng.choice(pool)]
        if rng.random() < 0.3:
            given.append(rng.choice([name for name in pool if name != given[0]]))
        born = _birth_date(rng)
        age = (REFERENCE_DATE - born).days // 365
        name: dict[str, Any] = {"use": "official", "family": family, "given": given}
        prefix = _title(rng, gender, age)
        if prefix:
            name["prefix"] = prefix
        names = [name]
        if gender == "female" and age > 25 and rng.random() < 0.15:
            names.append(
                {
                    "use": "maiden",
                    "family": rng.choice(SURNAMES),
                    "given": given,
                    "period": {"end": str(born.year + rng.randrange(20, max(21, age)))},
                }
            )
        if given[0] in NICKNAMES and rng.random() < 0.5:
            names.append({"use": "usual", "given": [NICKNAMES[given[0]]]})

        town = rng.choice(TOWNS)
        line = [f"{rng.randrange(1, 250)} {rng.choice(STREETS)}"]
        if rng.random() < 0.2:
            line.insert(0, rng.choice(FLATS))
        address: dict[str, Any] = {
            "use": "home",
            "type": "both",
            "line": line,
            "city": town[0],
            "postalCode": _postcode(rng, town[1]),
            "country": "GB",
        }
        addresses = [address]
        if rng.random() < 0.1:
            old_town = rng.choice(TOWNS)
            addresses.append(
                {
                    "use": "old",
                    "line": [f"{rng.randrange(1, 250)} {rng.choice(STREETS)}"],
                    "city": old_town[0],
                    "postalCode": _postcode(rng, old_town[1]),
                    "country": "GB",
                    "period": {"end": str(REFERENCE_DATE.year - rng.randrange(1, 10))},
                }
            )

        nhs_number = next(numbers)
        identifiers: list[dict[str, Any]] = [
            {
                "extension": [
                    {
                        "url": NHS_NUMBER_VERIFICATION,
                        "valueCodeableConcept": {
                            "coding": [
                                {
                                    "system": NHS_NUMBER_VERIFICATION_SYSTEM,
                                    "code": "01",
                                    "display": "Number present and verified",
                                }
                            ]
                        },
                    }
                ],
                "system": NHS_NUMBER_SYSTEM,
                "value": nhs_number,
            }
        ]
        if rng.random() < 0.5:
            identifiers.append(
                {
                    "use": "secondary",
                    "type": {"text": "Hospital number"},
                    "system": HOSPITAL_NUMBER_SYSTEM,
                    "value": f"RX{rng.randrange(10**7):07d}",
                }
            )

        telecom: list[dict[str, Any]] = []
        if rng.random() < 0.8:
            telecom.append({"system": "phone", "value": _mobile(rng), "use": "mobile", "rank": 1})
        if rng.random() < 0.5:
            telecom.append({"system": "phone", "value": _phone(rng, town[2]), "use": "home"})
        if age >= 16 and rng.random() < 0.4:
            local = f"{given[0]}.{family}".lower().replace(" ", "").replace("'", "")
            telecom.append({"system": "email", "value": f"{local}@example.com", "use": "home"})

        ods, practice = GP_PRACTICES[rng.randrange(len(GP_PRACTICES))]
        patient: dict[str, Any] = {
            "resourceType": "Patient",
            "identifier": identifiers,
            "active": True,
            "name": names,
        }
        if telecom:
            patient["telecom"] = telecom
        patient["gender"] = gender
        patient["birthDate"] = born.isoformat()
        if rng.random() < 0.04 and age > 30:
            died = born + timedelta(days=rng.randrange(30 * 365, (REFERENCE_DATE - born).days))
            patient["deceasedDateTime"] = f"{died.isoformat()}T{rng.randrange(24):02d}:00:00+00:00"
        patient["address"] = addresses
        if rng.random() < 0.1 and age >= 18:
            patient["maritalStatus"] = {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus",
                        "code": "M",
                        "display": "Married",
                    }
                ]
            }
        if age < 18 or rng.random() < 0.35:
            patient["contact"] = [_contact(rng, family, town, minor=age < 18)]
        gp = {
            "type": "Organization",
            "identifier": {"system": ODS_SYSTEM, "value": ods},
            "display": practice,
        }
        practitioners = [gp]
        if rng.random() < 0.3:
            title, gp_family, gp_given = rng.choice(GP_NAMES)
            practitioners.insert(
                0, {"type": "Practitioner", "display": f"{title} {gp_given} {gp_family}"}
            )
        patient["generalPractitioner"] = practitioners
        patient["managingOrganization"] = dict(gp)
        patients.append(patient)
    return patients


def nhs_number_of(patient: dict[str, Any]) -> str | None:
    """The NHS number in a Patient resource, if any."""
    for identifier in patient.get("identifier", []):
        if identifier.get("system") == NHS_NUMBER_SYSTEM and identifier.get("value"):
            return str(identifier["value"])
    return None


def transaction_bundle(patients: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A transaction Bundle that creates each patient unless one with its NHS number exists."""
    entries = []
    for patient in patients:
        request: dict[str, Any] = {"method": "POST", "url": "Patient"}
        number = nhs_number_of(patient)
        if number:
            request["ifNoneExist"] = f"identifier={NHS_NUMBER_SYSTEM}|{number}"
        entries.append({"resource": patient, "request": request})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def load_patients(
    client_or_base_url: FhirClient | str,
    patients: Sequence[dict[str, Any]],
    *,
    batch_size: int = 100,
) -> list[str]:
    """Load patients with conditional creates; returns the server ids in input order.

    Running it again finds every patient by NHS number and creates nothing.
    """
    if isinstance(client_or_base_url, FhirClient):
        client, owned = client_or_base_url, False
    else:
        client = FhirClient(client_or_base_url, read_timeout=120.0)
        owned = True
    ids: list[str] = []
    try:
        for start in range(0, len(patients), batch_size):
            chunk = patients[start : start + batch_size]
            response = client.transaction(transaction_bundle(chunk))
            entries = response.get("entry") or []
            if len(entries) != len(chunk):
                raise FhirMalformed(
                    diagnostics=f"Sent {len(chunk)} entries, the server answered {len(entries)}."
                )
            for entry in entries:
                ids.append(_id_from_entry(entry))
    finally:
        if owned:
            client.close()
    return ids


def _id_from_entry(entry: dict[str, Any]) -> str:
    response = entry.get("response") if isinstance(entry, dict) else None
    if not isinstance(response, dict):
        raise FhirMalformed(diagnostics="Transaction response entry without a response.")
    status = str(response.get("status", ""))
    if not status.startswith(("200", "201")):
        raise FhirMalformed(diagnostics=f"Transaction entry failed with status {status!r}.")
    location = str(response.get("location", ""))
    parts = [part for part in location.split("?")[0].split("/") if part]
    if "Patient" in parts:
        index = parts.index("Patient")
        if index + 1 < len(parts):
            return parts[index + 1]
    resource = entry.get("resource")
    if isinstance(resource, dict) and isinstance(resource.get("id"), str):
        return resource["id"]
    raise FhirMalformed(diagnostics=f"Cannot read the patient id from location {location!r}.")
