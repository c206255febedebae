"""Synthetic clinical letters for sandbox patients, and loading them into EHRbase.

``generate_letters`` deterministically writes 0 to 20 letters per patient (clinic letters,
discharge summaries, referral letters; Markdown bodies; varied authors, statuses and dates),
all shaped by the console's letter template. ``load_letters`` uploads that template when the
server lacks it, creates each patient's EHR (``subject_id`` = FHIR Patient id) and posts the
letters as FLAT compositions, to the emulator or a real EHRbase. Re-running is safe: a
patient whose EHR already holds letters is skipped.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from console.openehr import letter_template as lt
from console.openehr.client import EhrbaseClient
from console.openehr.errors import EhrbaseError
from console.openehr.letters import ehr_has_letters

ANCHOR = datetime(2026, 6, 30, 17, 0, tzinfo=UTC)
SPAN_DAYS = 3 * 365


@dataclass(frozen=True)
class SandboxPatient:
    """What the generator needs to know about a patient.

    With a birth date, letters fall after it and children see paediatricians; with a date of
    death, no letter is dated after it.
    """

    id: str
    name: str | None = None
    birth_date: date | None = None
    died: date | None = None

    @classmethod
    def from_fhir(cls, resource: dict[str, Any], patient_id: str) -> SandboxPatient:
        """From a synthetic FHIR Patient and the id the server gave it."""
        return cls(
            patient_id,
            birth_date=_date_of(resource.get("birthDate")),
            died=_date_of(resource.get("deceasedDateTime")),
        )


def _date_of(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Clinician:
    name: str
    role: str
    specialty: str
    hospital: str


CLINICIANS = (
    Clinician("Dr Priya Raman", "Consultant Cardiologist", "cardiology", "St Aldhelm's Hospital"),
    Clinician("Dr Owen Hughes", "Consultant Respiratory Physician", "respiratory", "St Aldhelm's Hospital"),
    Clinician("Dr Fiona MacLeod", "Consultant in Diabetes and Endocrinology", "diabetes", "Riverside General Hospital"),
    Clinician("Mr Daniel Okafor", "Consultant Orthopaedic Surgeon", "orthopaedics", "Riverside General Hospital"),
    Clinician("Dr Hannah Cole", "Consultant Gastroenterologist", "gastroenterology", "St Aldhelm's Hospital"),
    Clinician("Dr Tomasz Nowak", "Consultant Neurologist", "neurology", "Northgate University Hospital"),
    Clinician("Dr Aisha Begum", "Consultant Rheumatologist", "rheumatology", "Northgate University Hospital"),
    Clinician("Dr Rebecca Lloyd", "Consultant Physician, Acute Medicine", "acute", "Riverside General Hospital"),
    Clinician("Dr Samuel Adeyemi", "Specialty Registrar, Cardiology", "cardiology", "St Aldhelm's Hospital"),
    Clinician("Ms Claire Porter", "Advanced Nurse Practitioner, Diabetes", "diabetes", "Riverside General Hospital"),
)  # fmt: skip

PAEDIATRICIANS = (
    Clinician("Dr Laura Bennett", "Consultant Paediatrician", "paediatrics", "Riverside General Hospital"),
    Clinician("Dr Kwame Mensah", "Consultant in Paediatric Respiratory Medicine", "paediatric respiratory", "Northgate University Hospital"),
    Clinician("Dr Sophie Turner", "Consultant in Paediatric Diabetes", "paediatric diabetes", "St Aldhelm's Hospital"),
)  # fmt: skip

ADULT_AGE = 16

GP_RECIPIENTS = (
    "Dr Alan Fraser, Millbrook Surgery",
    "Dr Nadia Hussain, Castle Street Medical Centre",
    "Dr Ruth Evans, Harbourside Health Centre",
    "Dr Michael Chen, The Old Mill Practice",
    "Dr Joanna Webb, Parkview Surgery",
)

CONDITIONS: dict[str, list[tuple[str, list[str], list[str]]]] = {
    "cardiology": [
        ("atrial fibrillation", ["Apixaban 5 mg twice daily", "Bisoprolol 2.5 mg once daily"], ["ECG", "echocardiogram"]),
        ("stable angina", ["Aspirin 75 mg once daily", "Atorvastatin 80 mg at night", "GTN spray as required"], ["exercise tolerance test", "CT coronary angiogram"]),
        ("heart failure with reduced ejection fraction", ["Ramipril 5 mg once daily", "Bisoprolol 5 mg once daily", "Dapagliflozin 10 mg once daily"], ["NT-proBNP", "echocardiogram"]),
    ],
    "respiratory": [
        ("asthma", ["Beclometasone/formoterol 100/6 two puffs twice daily", "Salbutamol inhaler as required"], ["spirometry", "FeNO"]),
        ("COPD", ["Tiotropium 18 micrograms once daily", "Salbutamol inhaler as required"], ["spirometry", "chest X-ray"]),
    ],
    "diabetes": [
        ("type 2 diabetes", ["Metformin 1 g twice daily", "Empagliflozin 10 mg once daily"], ["HbA1c", "urine albumin:creatinine ratio"]),
        ("type 1 diabetes", ["Insulin glargine 18 units at night", "Insulin aspart with meals"], ["HbA1c", "continuous glucose monitor download"]),
        ("hypothyroidism", ["Levothyroxine 100 micrograms once daily"], ["TSH", "free T4"]),
    ],
    "orthopaedics": [
        ("osteoarthritis of the right knee", ["Paracetamol 1 g four times daily as required", "Topical ibuprofen gel"], ["weight-bearing knee X-ray"]),
        ("rotator cuff tendinopathy", ["Naproxen 500 mg twice daily for two weeks"], ["shoulder ultrasound"]),
    ],
    "gastroenterology": [
        ("Crohn's disease", ["Azathioprine 100 mg once daily"], ["faecal calprotectin", "MR enterography"]),
        ("gastro-oesophageal reflux disease", ["Omeprazole 20 mg once daily"], ["upper GI endoscopy"]),
    ],
    "neurology": [
        ("migraine without aura", ["Propranolol 80 mg modified release once daily", "Sumatriptan 50 mg as required"], ["headache diary"]),
        ("epilepsy", ["Levetiracetam 500 mg twice daily"], ["EEG", "MRI brain"]),
    ],
    "rheumatology": [
        ("rheumatoid arthritis", ["Methotrexate 15 mg once weekly", "Folic acid 5 mg once weekly"], ["CRP", "full blood count", "liver function tests"]),
        ("polymyalgia rheumatica", ["Prednisolone 15 mg once daily, reducing"], ["ESR", "CRP"]),
    ],
    "paediatrics": [
        ("atopic eczema", ["Emollient cream as often as needed", "Hydrocortisone 1% cream once daily for flares"], ["skin swab if infected"]),
        ("functional constipation", ["Macrogol oral powder, one sachet daily"], ["growth and weight review"]),
    ],
    "paediatric respiratory": [
        ("childhood asthma", ["Beclometasone 100 micrograms two puffs twice daily via spacer", "Salbutamol inhaler as required via spacer"], ["peak flow diary", "spirometry"]),
        ("viral-induced wheeze", ["Salbutamol inhaler as required via spacer"], ["oxygen saturations"]),
    ],
    "paediatric diabetes": [
        ("type 1 diabetes", ["Insulin glargine 8 units at night", "Insulin aspart with meals"], ["HbA1c", "continuous glucose monitor download"]),
    ],
    "paediatric acute": [
        ("bronchiolitis", ["Supportive care; no regular medicines"], ["oxygen saturations", "feeding chart"]),
        ("gastroenteritis with dehydration", ["Oral rehydration solution"], ["urea and electrolytes"]),
    ],
    "acute": [
        ("community-acquired pneumonia", ["Amoxicillin 500 mg three times daily for five days"], ["chest X-ray", "CRP"]),
        ("cellulitis of the left leg", ["Flucloxacillin 1 g four times daily for seven days"], ["CRP", "blood cultures"]),
        ("acute kidney injury", ["Ramipril withheld"], ["urea and electrolytes"]),
    ],
}  # fmt: skip


@dataclass
class LoadReport:
    """What ``load_letters`` did."""

    template_uploaded: bool = False
    patients: int = 0
    ehrs_created: int = 0
    letters_created: int = 0
    patients_skipped: int = 0
    failures: list[str] = field(default_factory=list)


def _greeting(recipient: str) -> str:
    name = recipient.split(",", 1)[0]
    return f"Dear {name},"


def _patient_line(patient: SandboxPatient) -> str:
    return (
        f"**Patient:** {patient.name}" if patient.name else f"**Patient reference:** {patient.id}"
    )


def _clinic_letter(
    rng: random.Random, patient: SandboxPatient, clinician: Clinician, recipient: str
) -> tuple[str, str]:
    condition, medicines, tests = rng.choice(CONDITIONS[clinician.specialty])
    bp = f"{rng.randint(112, 158)}/{rng.randint(68, 94)}"
    pulse = rng.randint(58, 96)
    follow_up = rng.choice(["three months", "six months", "twelve months"])
    title = (
        f"{clinician.specialty.capitalize()} clinic letter"
        if clinician.specialty != "acute"
        else "Ambulatory care clinic letter"
    )
    body = "\n".join([
        _greeting(recipient),
        "",
        _patient_line(patient),
        f"**Seen in:** {clinician.specialty.capitalize()} outpatient clinic, {clinician.hospital}",
        "",
        "## Diagnosis",
        f"1. {condition.capitalize()}",
        "",
        "## Current medication",
        *[f"- {m}" for m in medicines],
        "",
        "## History",
        f"I reviewed your patient today for follow-up of {condition}. "
        + rng.choice([
            "They report feeling generally well, with no new symptoms since the last visit.",
            "They describe occasional symptoms on exertion but no episodes at rest.",
            "Symptoms have improved since the change of treatment at the last appointment.",
        ]),
        "",
        "## Examination",
        f"Blood pressure {bp} mmHg, pulse {pulse} beats per minute and regular. "
        "Heart sounds normal; chest clear.",
        "",
        "## Plan",
        f"- Arrange {rng.choice(tests)} before the next visit.",
        "- Continue the current medication without change." if rng.random() < 0.6 else f"- Adjust treatment: {rng.choice(medicines)}.",
        f"- Review in clinic in {follow_up}.",
        "",
        "Yours sincerely,",
        "",
        f"{clinician.name}  ",
        f"{clinician.role}",
    ])  # fmt: skip
    return title, body


def _discharge_summary(
    rng: random.Random,
    patient: SandboxPatient,
    clinician: Clinician,
    recipient: str,
    admitted: datetime,
    child: bool,
) -> tuple[str, str]:
    acute = CONDITIONS["paediatric acute" if child else "acute"]
    condition, medicines, tests = rng.choice(acute + CONDITIONS[clinician.specialty])
    wards = (
        ["Children's Ward", "Paediatric Assessment Unit"]
        if child
        else ["Acute Medical Unit", "Beech Ward", "Cedar Ward", "Willow Ward"]
    )
    days = rng.randint(1, 9)
    discharged = admitted + timedelta(days=days)
    body = "\n".join([
        _greeting(recipient),
        "",
        _patient_line(patient),
        f"**Admitted:** {admitted:%d-%b-%Y}  ",
        f"**Discharged:** {discharged:%d-%b-%Y}  ",
        f"**Ward:** {rng.choice(wards)}, {clinician.hospital}",
        "",
        "## Reason for admission",
        f"{condition.capitalize()}.",
        "",
        "## Investigations",
        *[f"- {t.capitalize()}: {rng.choice(['within normal limits', 'abnormal, discussed below', 'improving on repeat'])}" for t in tests],
        "",
        "## Treatment in hospital",
        rng.choice([
            "Treated with intravenous fluids and antibiotics, switched to oral treatment on day two.",
            "Managed with oral medication and early mobilisation with the physiotherapy team.",
            "Monitored on the ward; medication optimised with the specialist team.",
        ]),
        "",
        "## Medication on discharge",
        "| Medicine | Instructions |",
        "| --- | --- |",
        *[f"| {m.split(' ', 1)[0]} | {m.split(' ', 1)[1] if ' ' in m else ''} |" for m in medicines],
        "",
        "## Actions for the GP",
        f"- Please check {rng.choice(tests)} in one to two weeks.",
        "- Please review medication at the next routine appointment.",
        "",
        f"{clinician.name}, {clinician.role}",
    ])  # fmt: skip
    return "Discharge summary", body


def _referral_letter(
    rng: random.Random, patient: SandboxPatient, clinician: Clinician, target: Clinician
) -> tuple[str, str, str]:
    condition, medicines, tests = rng.choice(CONDITIONS[target.specialty])
    recipient = f"{target.name}, {target.role}, {target.hospital}"
    body = "\n".join([
        _greeting(recipient),
        "",
        f"**Re:** referral for {target.specialty} opinion  ",
        _patient_line(patient),
        "",
        f"Thank you for seeing this patient, whom I would be grateful if you could assess for suspected {condition}.",
        "",
        "## Background",
        rng.choice([
            "Symptoms have been present for around four months and are slowly progressing.",
            "The problem came to light during a recent admission under my team.",
            "Initial treatment in primary care has not controlled the symptoms.",
        ]),
        "",
        "## Investigations so far",
        *[f"- {t.capitalize()}" for t in tests],
        "",
        "## Question",
        f"> Would you advise on the diagnosis and on starting {rng.choice(medicines).split(' ', 1)[0].lower()}?",
        "",
        "With thanks and best wishes,",
        "",
        f"{clinician.name}  ",
        f"{clinician.role}",
    ])  # fmt: skip
    return f"Referral to {target.specialty}", recipient, body


def generate_letters(
    patient: SandboxPatient | str, *, seed: int = 0, anchor: datetime = ANCHOR
) -> list[lt.LetterInput]:
    """Between 0 and 20 letters for a patient, the same every time for the same patient and seed.

    Letters are dated within the patient's life (when the dates are known) and the three years
    before ``anchor``; a patient under 16 on a letter's date sees paediatricians.
    """
    if isinstance(patient, str):
        patient = SandboxPatient(patient)
    rng = random.Random(f"quill-letters:{seed}:{patient.id}")  # noqa: S311 - demo data, not security
    count = rng.choice([0, 0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20])
    gp = rng.choice(GP_RECIPIENTS)
    earliest = anchor - timedelta(days=SPAN_DAYS)
    if patient.birth_date is not None:
        earliest = max(earliest, datetime.combine(patient.birth_date, time(9), UTC))
    latest = anchor
    if patient.died is not None:
        latest = min(latest, datetime.combine(patient.died, time(8), UTC))
    if latest <= earliest:
        return []
    span_days = (latest - earliest).days
    letters: list[lt.LetterInput] = []
    for _ in range(count):
        written = latest - timedelta(days=rng.randint(0, span_days), minutes=rng.randint(0, 9 * 60))
        written = max(written, earliest).replace(second=0, microsecond=0)
        child = patient.birth_date is not None and _age(patient.birth_date, written) < ADULT_AGE
        pool = PAEDIATRICIANS if child else CLINICIANS
        clinician = rng.choice(pool)
        kind = rng.random()
        if kind < 0.55:
            title, body = _clinic_letter(rng, patient, clinician, gp)
            recipient = gp
        elif kind < 0.8:
            admitted = max(written - timedelta(days=rng.randint(2, 10)), earliest)
            title, body = _discharge_summary(rng, patient, clinician, gp, admitted, child)
            recipient = gp
        else:
            target = rng.choice([c for c in pool if c.specialty != clinician.specialty])
            title, recipient, body = _referral_letter(rng, patient, clinician, target)
        roll = rng.random()
        status = "final" if roll < 0.75 else "draft" if roll < 0.9 else "amended"
        letters.append(
            lt.LetterInput(
                title=title,
                body_markdown=body,
                status=status,
                author=clinician.name,
                date=written,
                recipient=recipient,
                facility=clinician.hospital,
            )
        )
    letters.sort(key=lambda letter: letter.date)
    return letters


def _age(born: date, on: datetime) -> int:
    day = on.date()
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def ensure_letter_template(client: EhrbaseClient) -> bool:
    """Upload the letter template unless the server has it; True when it was uploaded now."""
    if any(t.template_id == lt.TEMPLATE_ID for t in client.list_templates()):
        return False
    return client.ensure_template(lt.letter_opt()).created


def load_letters(
    client: EhrbaseClient,
    patients: Iterable[SandboxPatient | str],
    *,
    namespace: str = "fhir",
    seed: int = 0,
    workers: int = 4,
    progress: Callable[[int], None] | None = None,
) -> LoadReport:
    """Load every patient's generated letters into EHRbase; safe to run again."""
    report = LoadReport(template_uploaded=ensure_letter_template(client))
    people = [SandboxPatient(p) if isinstance(p, str) else p for p in patients]

    def load_one(patient: SandboxPatient) -> tuple[int, int, bool, str | None]:
        letters = generate_letters(patient, seed=seed)
        if not letters:
            return 0, 0, False, None
        try:
            ehr, created = client.ensure_ehr(patient.id, namespace)
            if not created and ehr_has_letters(client, ehr.ehr_id, lt.TEMPLATE_ID):
                return 0, 0, True, None
            for letter in letters:
                client.create_composition(ehr.ehr_id, lt.TEMPLATE_ID, lt.letter_to_flat(letter))
        except EhrbaseError as exc:
            return 0, 0, False, f"{patient.id}: {exc.message} {exc.diagnostics}".strip()
        return int(created), len(letters), False, None

    def results() -> Iterator[tuple[int, int, bool, str | None]]:
        # EHRbase records the API user at its first write and refuses another request doing the
        # same at that moment ("User already created concurrently"): patients go one at a time
        # until EHRbase has answered a write (or found an EHR), then the rest in parallel.
        remaining = iter(people)
        for patient in remaining:
            outcome = load_one(patient)
            yield outcome
            ehrs, count, skipped, _failure = outcome
            if ehrs or count or skipped:
                break
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            yield from pool.map(load_one, remaining)

    for done, (ehrs, count, skipped, failure) in enumerate(results(), 1):
        report.patients += 1
        report.ehrs_created += ehrs
        report.letters_created += count
        report.patients_skipped += int(skipped)
        if failure:
            report.failures.append(failure)
        if progress is not None:
            progress(done)
    return report
