"""Fill a throw-away auth database with many users and audit events (PostgreSQL COPY)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import psycopg

from console.auth.passwords import hash_password

FIRST = [
    "Olivia",
    "Amelia",
    "Isla",
    "Ava",
    "Mia",
    "Ivy",
    "Lily",
    "Isabella",
    "Rosie",
    "Sophia",
    "Grace",
    "Freya",
    "Noah",
    "Oliver",
    "George",
    "Arthur",
    "Muhammad",
    "Leo",
    "Harry",
    "Oscar",
    "Archie",
    "Henry",
    "Theodore",
    "Freddie",
    "Jack",
    "Charlie",
    "Thomas",
    "Priya",
    "Aisha",
    "Fatima",
    "Wei",
    "Chen",
    "Kwame",
    "Ngozi",
    "Siobhan",
    "Niamh",
    "Rhys",
    "Eilidh",
    "Callum",
    "Seren",
    "Dylan",
    "Anwen",
]
LAST = [
    "Smith",
    "Jones",
    "Williams",
    "Taylor",
    "Brown",
    "Davies",
    "Evans",
    "Wilson",
    "Thomas",
    "Johnson",
    "Roberts",
    "Robinson",
    "Thompson",
    "Wright",
    "Walker",
    "White",
    "Edwards",
    "Hughes",
    "Green",
    "Hall",
    "Lewis",
    "Harris",
    "Clarke",
    "Patel",
    "Jackson",
    "Wood",
    "Turner",
    "Martin",
    "Cooper",
    "Hill",
    "Ward",
    "Morris",
    "Moore",
    "Clark",
    "Lee",
    "King",
    "Baker",
    "Harrison",
    "Morgan",
    "Allen",
    "James",
    "Scott",
    "Phillips",
    "Watson",
    "Davis",
    "Parker",
    "Price",
    "Bennett",
    "Young",
    "Griffiths",
    "Mitchell",
    "Kelly",
    "Cook",
    "Carter",
    "Richardson",
    "Bailey",
    "Collins",
    "Bell",
    "Shaw",
    "Murphy",
    "Miller",
    "Cox",
    "Richards",
    "Khan",
    "Marshall",
    "Anderson",
    "Simpson",
    "Ellis",
    "Adams",
    "Singh",
    "Begum",
    "Wilkinson",
    "Foster",
    "Chapman",
    "Powell",
    "Webb",
]
ACTIONS = (
    ("auth.sign_in", 40),
    ("patients.search", 25),
    ("patients.view", 15),
    ("letters.view", 8),
    ("auth.sign_out", 6),
    ("users.update", 3),
    ("users.disable", 1),
    ("auth.password_change", 2),
)


def _psycopg_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def populate(url: str, users: int, events: int, seed: int = 8) -> dict[str, int]:
    """Add ``users`` Clinician users and ``events`` audit events; return counts and id range."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    password_hash = hash_password("not used: the bench signs in its own users")
    with psycopg.connect(_psycopg_dsn(url)) as conn:
        first_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM users").fetchone()[0]
        columns = (
            "username, email, full_name, password_hash, active, totp_enabled, "
            "failed_login_count, must_change_password, must_enrol_totp, created_at, "
            "updated_at, version, last_sign_in_at"
        )
        usernames: list[str] = []
        with conn.cursor().copy(f"COPY users ({columns}) FROM STDIN") as copy:
            for i in range(users):
                first, last = rng.choice(FIRST), rng.choice(LAST)
                username = f"{first}.{last}{i}".lower()
                usernames.append(username)
                created = now - timedelta(days=rng.randint(30, 2000))
                signed_in = (
                    None
                    if rng.random() < 0.15
                    else now - timedelta(minutes=rng.randint(1, 600_000))
                )
                copy.write_row(
                    (
                        username,
                        f"{username}@example.org",
                        f"{first} {last}",
                        password_hash,
                        rng.random() > 0.05,
                        rng.random() > 0.3,
                        0,
                        rng.random() < 0.02,
                        False,
                        created,
                        created,
                        1,
                        signed_in,
                    )
                )
        last_id = conn.execute("SELECT max(id) FROM users").fetchone()[0]
        conn.execute(
            "INSERT INTO user_roles (user_id, role_id) SELECT u.id, r.id FROM users u, roles r "
            "WHERE r.name = 'Clinician' AND u.id >= %s",
            (first_id,),
        )
        names = [a for a, _ in ACTIONS]
        weights = [w for _, w in ACTIONS]
        with conn.cursor().copy(
            "COPY audit_events (occurred_at, actor_id, actor_username, action, outcome, "
            "target_type, target_id, patient_id, details) FROM STDIN"
        ) as copy:
            start = now - timedelta(days=365)
            step = timedelta(days=365) / max(events, 1)
            for i in range(events):
                actor = rng.randint(first_id, last_id)
                action = rng.choices(names, weights)[0]
                patient = (
                    f"pat-{rng.randint(1, 50_000)}" if action.startswith(("pat", "let")) else None
                )
                copy.write_row(
                    (
                        start + step * i,
                        actor,
                        usernames[actor - first_id],
                        action,
                        "failure" if rng.random() < 0.03 else "success",
                        "patient" if patient else "user",
                        patient or str(actor),
                        patient,
                        json.dumps({"n": i}),
                    )
                )
        conn.execute("ANALYZE")
        conn.commit()
    return {
        "users": users,
        "events": events,
        "first_id": first_id,
        "last_id": last_id,
        "sample_username": usernames[len(usernames) // 2],
    }
