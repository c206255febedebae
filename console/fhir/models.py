"""Small typed views of FHIR R4 Patient resources and searchset Bundles.

Parsing is tolerant: unknown fields are ignored and missing optional fields become empty
values, so one odd record never breaks a page. Only what the console cannot work without
(the resource type and a Patient's ``id``) raises ``FhirMalformed``. The untouched JSON is
kept in ``raw`` for the "FHIR resource" panel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from console.fhir.errors import FhirMalformed
from console.nhs_number import NHS_NUMBER_SYSTEM, format_nhs_number

KNOWN_IDENTIFIER_SYSTEMS: dict[str, str] = {
    NHS_NUMBER_SYSTEM: "NHS number",
    "https://fhir.nhs.uk/Id/ods-organization-code": "ODS organisation code",
    "https://fhir.nhs.uk/Id/ods-site-code": "ODS site code",
    "https://fhir.nhs.uk/Id/sds-user-id": "SDS user ID",
    "https://fhir.nhs.uk/Id/sds-role-profile-id": "SDS role profile ID",
    "http://ns.electronichealth.net.au/id/hi/ihi/1.0": "IHI",
    "http://ns.electronichealth.net.au/id/medicare-number": "Medicare number",
    "http://hl7.org/fhir/sid/us-ssn": "US Social Security number",
}

CONTACT_RELATIONSHIPS: dict[str, str] = {
    "C": "Emergency contact",
    "E": "Employer",
    "F": "Federal agency",
    "I": "Insurance company",
    "N": "Next of kin",
    "S": "State agency",
    "U": "Not known",
}

FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _strs(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return ()
    return tuple(item.strip() for item in value if isinstance(item, str) and item.strip())


def _dicts(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


@dataclass(frozen=True)
class PartialDate:
    """A FHIR date, which may be a year, a year and month, or a full date."""

    raw: str
    year: int | None = None
    month: int | None = None
    day: int | None = None

    @classmethod
    def parse(cls, value: Any) -> PartialDate | None:
        """Parse ``1970``, ``1970-01``, ``1970-01-01`` or a dateTime; None when absent."""
        text = _str(value)
        if not text:
            return None
        match = _PARTIAL_DATE.match(text)
        if not match:
            return cls(raw=text)
        year, month, day = (int(part) if part else None for part in match.groups())
        try:
            if month is not None:
                date(year or 1, month, day or 1)
        except ValueError:
            return cls(raw=text)
        return cls(raw=text, year=year, month=month, day=day)

    @property
    def as_date(self) -> date | None:
        """The full date, or None when only a year or month is known."""
        if self.year and self.month and self.day:
            return date(self.year, self.month, self.day)
        return None

    def age_on(self, today: date) -> int | None:
        """Whole years between this date and ``today`` (None when the day is not known)."""
        born = self.as_date
        if born is None:
            return None
        years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        return max(0, years)


@dataclass(frozen=True)
class HumanName:
    """One ``HumanName``: the parts as recorded."""

    use: str = ""
    family: str = ""
    given: tuple[str, ...] = ()
    prefix: tuple[str, ...] = ()
    suffix: tuple[str, ...] = ()
    text: str = ""
    period_end: str = ""

    @classmethod
    def parse(cls, data: dict[str, Any]) -> HumanName:
        period = data.get("period") if isinstance(data.get("period"), dict) else {}
        return cls(
            use=_str(data.get("use")),
            family=_str(data.get("family")),
            given=_strs(data.get("given")),
            prefix=_strs(data.get("prefix")),
            suffix=_strs(data.get("suffix")),
            text=_str(data.get("text")),
            period_end=_str(period.get("end")),
        )

    @property
    def is_empty(self) -> bool:
        return not (self.family or self.given or self.text)

    @property
    def banner(self) -> str:
        """``FAMILY, Given Middle (Title)``, falling back to the free text of the name."""
        if not (self.family or self.given):
            return self.text
        parts = []
        if self.family:
            parts.append(self.family.upper())
        given = " ".join(self.given)
        label = ", ".join(parts + ([given] if given else []))
        if self.prefix:
            label += f" ({' '.join(self.prefix)})"
        return label

    @property
    def full(self) -> str:
        """The name in reading order: ``Dr Mary Anne Smith OBE``."""
        if not (self.family or self.given):
            return self.text
        return " ".join([*self.prefix, *self.given, self.family, *self.suffix]).strip()


@dataclass(frozen=True)
class Identifier:
    """One identifier, labelled by its system."""

    system: str = ""
    value: str = ""
    use: str = ""
    type_text: str = ""

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Identifier:
        type_ = data.get("type") if isinstance(data.get("type"), dict) else {}
        type_text = _str(type_.get("text"))
        if not type_text:
            for coding in _dicts(type_.get("coding")):
                type_text = _str(coding.get("display"))
                if type_text:
                    break
        return cls(
            system=_str(data.get("system")),
            value=_str(data.get("value")),
            use=_str(data.get("use")),
            type_text=type_text,
        )

    @property
    def is_nhs_number(self) -> bool:
        return self.system == NHS_NUMBER_SYSTEM

    @property
    def label(self) -> str:
        """A known system's name, else the type's text, else the raw system URI."""
        return (
            KNOWN_IDENTIFIER_SYSTEMS.get(self.system)
            or self.type_text
            or self.system
            or "Identifier"
        )

    @property
    def display_value(self) -> str:
        """The value, with NHS numbers spaced ``943 476 5919``."""
        return format_nhs_number(self.value) if self.is_nhs_number else self.value


@dataclass(frozen=True)
class ContactPoint:
    """A phone number, email address or other ``ContactPoint``."""

    system: str = ""
    value: str = ""
    use: str = ""
    rank: int | None = None

    @classmethod
    def parse(cls, data: dict[str, Any]) -> ContactPoint:
        rank = data.get("rank")
        return cls(
            system=_str(data.get("system")),
            value=_str(data.get("value")),
            use=_str(data.get("use")),
            rank=rank if isinstance(rank, int) and not isinstance(rank, bool) else None,
        )

    @property
    def label(self) -> str:
        """E.g. ``Mobile phone``, ``Home email``, ``Phone``."""
        kind = {"phone": "phone", "email": "email", "fax": "fax", "sms": "SMS", "url": "web"}.get(
            self.system, self.system or "contact"
        )
        if self.use == "mobile":
            return "Mobile phone" if kind == "phone" else f"Mobile {kind}"
        if self.use in ("home", "work", "temp", "old"):
            return f"{self.use.capitalize()} {kind}"
        return kind[:1].upper() + kind[1:]


@dataclass(frozen=True)
class Address:
    """A postal address."""

    use: str = ""
    type: str = ""
    lines: tuple[str, ...] = ()
    city: str = ""
    district: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = ""
    text: str = ""
    period_end: str = ""

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Address:
        period = data.get("period") if isinstance(data.get("period"), dict) else {}
        return cls(
            use=_str(data.get("use")),
            type=_str(data.get("type")),
            lines=_strs(data.get("line")),
            city=_str(data.get("city")),
            district=_str(data.get("district")),
            state=_str(data.get("state")),
            postal_code=_str(data.get("postalCode")),
            country=_str(data.get("country")),
            text=_str(data.get("text")),
            period_end=_str(period.get("end")),
        )

    @property
    def parts(self) -> tuple[str, ...]:
        """The non-empty lines of the address, postcode last."""
        parts = [*self.lines, self.city, self.district, self.state, self.postal_code, self.country]
        found = tuple(part for part in parts if part)
        return found or ((self.text,) if self.text else ())

    @property
    def one_line(self) -> str:
        return ", ".join(self.parts)


@dataclass(frozen=True)
class Reference:
    """A reference to another resource (a GP, a practice, an organisation)."""

    reference: str = ""
    display: str = ""
    type: str = ""
    identifier: Identifier | None = None

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Reference:
        identifier = data.get("identifier")
        return cls(
            reference=_str(data.get("reference")),
            display=_str(data.get("display")),
            type=_str(data.get("type")) or _str(data.get("reference")).partition("/")[0],
            identifier=Identifier.parse(identifier) if isinstance(identifier, dict) else None,
        )

    @property
    def label(self) -> str:
        """The display text, else the identifier, else the literal reference."""
        if self.display:
            return self.display
        if self.identifier and self.identifier.value:
            return f"{self.identifier.label} {self.identifier.value}"
        return self.reference


@dataclass(frozen=True)
class PatientContact:
    """A next of kin, emergency contact or other ``Patient.contact``."""

    relationships: tuple[str, ...] = ()
    name: HumanName | None = None
    telecom: tuple[ContactPoint, ...] = ()
    address: Address | None = None
    gender: str = ""
    organization: Reference | None = None

    @classmethod
    def parse(cls, data: dict[str, Any]) -> PatientContact:
        relationships: list[str] = []
        for concept in _dicts(data.get("relationship")):
            text = _str(concept.get("text"))
            if not text:
                for coding in _dicts(concept.get("coding")):
                    text = _str(coding.get("display")) or CONTACT_RELATIONSHIPS.get(
                        _str(coding.get("code")), _str(coding.get("code"))
                    )
                    if text:
                        break
            if text:
                relationships.append(text)
        name = data.get("name")
        address = data.get("address")
        organization = data.get("organization")
        return cls(
            relationships=tuple(relationships),
            name=HumanName.parse(name) if isinstance(name, dict) else None,
            telecom=tuple(ContactPoint.parse(item) for item in _dicts(data.get("telecom"))),
            address=Address.parse(address) if isinstance(address, dict) else None,
            gender=_str(data.get("gender")),
            organization=Reference.parse(organization) if isinstance(organization, dict) else None,
        )


_NAME_PREFERENCE = {"official": 0, "usual": 1, "": 2, "nickname": 3, "anonymous": 4}


@dataclass(frozen=True)
class PatientView:
    """The parts of a FHIR Patient the console shows."""

    id: str
    version_id: str = ""
    last_updated: str = ""
    names: tuple[HumanName, ...] = ()
    identifiers: tuple[Identifier, ...] = ()
    telecom: tuple[ContactPoint, ...] = ()
    addresses: tuple[Address, ...] = ()
    gender: str = ""
    birth_date: PartialDate | None = None
    deceased: bool = False
    deceased_date: PartialDate | None = None
    active: bool | None = None
    general_practitioners: tuple[Reference, ...] = ()
    managing_organization: Reference | None = None
    contacts: tuple[PatientContact, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def name(self) -> HumanName | None:
        """The name to show: current official first, then usual, then any other."""
        current = [n for n in self.names if not n.is_empty and n.use not in ("old", "maiden")]
        candidates = current or [n for n in self.names if not n.is_empty]
        if not candidates:
            return None
        return min(candidates, key=lambda n: (bool(n.period_end), _NAME_PREFERENCE.get(n.use, 5)))

    @property
    def other_names(self) -> tuple[HumanName, ...]:
        """Every recorded name except the one shown in the banner."""
        shown = self.name
        return tuple(n for n in self.names if n is not shown and not n.is_empty)

    @property
    def nhs_number(self) -> str:
        """The NHS number's digits, or an empty string."""
        for identifier in self.identifiers:
            if identifier.is_nhs_number and identifier.value:
                return identifier.value.replace(" ", "")
        return ""

    @property
    def home_address(self) -> Address | None:
        """The current home address, else the first current address."""
        current = [a for a in self.addresses if not a.period_end and a.use != "old"]
        for address in current:
            if address.use == "home":
                return address
        return current[0] if current else None

    @property
    def postcode(self) -> str:
        address = self.home_address
        return address.postal_code if address else ""

    def age_on(self, today: date) -> int | None:
        """Age in whole years on ``today``, or at death for a deceased patient."""
        if self.birth_date is None:
            return None
        if self.deceased_date is not None and self.deceased_date.as_date is not None:
            today = min(today, self.deceased_date.as_date)
        return self.birth_date.age_on(today)


def parse_patient(payload: Any) -> PatientView:
    """Read a Patient resource; raises ``FhirMalformed`` for anything that is not one."""
    if not isinstance(payload, dict):
        raise FhirMalformed(diagnostics="Expected a JSON object for a Patient resource.")
    resource_type = payload.get("resourceType")
    if resource_type != "Patient":
        raise FhirMalformed(diagnostics=f"Expected resourceType 'Patient', got {resource_type!r}.")
    patient_id = payload.get("id")
    if not isinstance(patient_id, str) or not FHIR_ID.match(patient_id):
        raise FhirMalformed(diagnostics=f"Patient resource without a valid id: {patient_id!r}.")
    meta = payload.get("meta") if isinstance(payload.get("meta"), dict) else {}
    deceased = False
    deceased_date = None
    if isinstance(payload.get("deceasedBoolean"), bool):
        deceased = payload["deceasedBoolean"]
    elif _str(payload.get("deceasedDateTime")):
        deceased = True
        deceased_date = PartialDate.parse(payload.get("deceasedDateTime"))
    active = payload.get("active")
    managing = payload.get("managingOrganization")
    return PatientView(
        id=patient_id,
        version_id=_str(meta.get("versionId")),
        last_updated=_str(meta.get("lastUpdated")),
        names=tuple(HumanName.parse(item) for item in _dicts(payload.get("name"))),
        identifiers=tuple(Identifier.parse(item) for item in _dicts(payload.get("identifier"))),
        telecom=tuple(ContactPoint.parse(item) for item in _dicts(payload.get("telecom"))),
        addresses=tuple(Address.parse(item) for item in _dicts(payload.get("address"))),
        gender=_str(payload.get("gender")),
        birth_date=PartialDate.parse(payload.get("birthDate")),
        deceased=deceased,
        deceased_date=deceased_date,
        active=active if isinstance(active, bool) else None,
        general_practitioners=tuple(
            Reference.parse(item) for item in _dicts(payload.get("generalPractitioner"))
        ),
        managing_organization=Reference.parse(managing) if isinstance(managing, dict) else None,
        contacts=tuple(PatientContact.parse(item) for item in _dicts(payload.get("contact"))),
        raw=payload,
    )


@dataclass(frozen=True)
class SearchPage:
    """One page of a searchset Bundle."""

    patients: tuple[PatientView, ...]
    total: int | None = None
    self_url: str = ""
    next_url: str | None = None
    previous_url: str | None = None
    bundle_id: str = ""

    @property
    def is_empty(self) -> bool:
        return not self.patients


def parse_search_bundle(payload: Any) -> SearchPage:
    """Read a searchset Bundle of Patients; raises ``FhirMalformed`` when it is not one."""
    if not isinstance(payload, dict):
        raise FhirMalformed(diagnostics="Expected a JSON object for a Bundle.")
    if payload.get("resourceType") != "Bundle":
        raise FhirMalformed(
            diagnostics=f"Expected resourceType 'Bundle', got {payload.get('resourceType')!r}."
        )
    bundle_type = payload.get("type")
    if bundle_type is not None and bundle_type != "searchset":
        raise FhirMalformed(diagnostics=f"Expected a searchset Bundle, got type {bundle_type!r}.")
    entries = payload.get("entry", [])
    if not isinstance(entries, list):
        raise FhirMalformed(diagnostics="Bundle.entry is not a list.")
    links: dict[str, str] = {}
    for link in _dicts(payload.get("link")):
        relation, url = _str(link.get("relation")), _str(link.get("url"))
        if relation and url:
            links.setdefault(relation, url)
    patients = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise FhirMalformed(diagnostics="A Bundle entry is not a JSON object.")
        search = entry.get("search") if isinstance(entry.get("search"), dict) else {}
        if search.get("mode") not in (None, "match"):
            continue
        resource = entry.get("resource")
        if isinstance(resource, dict) and resource.get("resourceType") == "OperationOutcome":
            continue
        patients.append(parse_patient(resource))
    total = payload.get("total")
    return SearchPage(
        patients=tuple(patients),
        total=total if isinstance(total, int) and not isinstance(total, bool) else None,
        self_url=links.get("self", ""),
        next_url=links.get("next"),
        previous_url=links.get("previous") or links.get("prev"),
        bundle_id=_str(payload.get("id")),
    )


@dataclass(frozen=True)
class ServerInfo:
    """What the server's CapabilityStatement says about itself."""

    software_name: str
    software_version: str
    fhir_version: str
    description: str
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def parse_capability_statement(payload: Any) -> ServerInfo:
    """Read ``/metadata``; raises ``FhirMalformed`` when it is not a CapabilityStatement."""
    if not isinstance(payload, dict) or payload.get("resourceType") != "CapabilityStatement":
        found = payload.get("resourceType") if isinstance(payload, dict) else type(payload).__name__
        raise FhirMalformed(diagnostics=f"Expected a CapabilityStatement, got {found!r}.")
    software = payload.get("software") if isinstance(payload.get("software"), dict) else {}
    implementation = (
        payload.get("implementation") if isinstance(payload.get("implementation"), dict) else {}
    )
    return ServerInfo(
        software_name=_str(software.get("name")),
        software_version=_str(software.get("version")),
        fhir_version=_str(payload.get("fhirVersion")),
        description=_str(implementation.get("description")),
        raw=payload,
    )


def parse_instant(text: str) -> datetime | None:
    """Parse ``meta.lastUpdated`` (``2025-05-23T05:42:36.551+00:00``); None if unreadable."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
