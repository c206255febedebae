"""The platform of ``compose.dev.yml`` without Docker: PostgreSQL, EHRbase, HAPI FHIR, Keycloak.

Used by ``make stack`` and by the test suite's ``live`` tier. Every server listens on loopback
only; data directories, logs and built applications live under the git-ignored ``.stack/``.
"""
