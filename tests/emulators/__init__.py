"""Loopback emulators of HAPI FHIR and EHRbase for tests and the no-Docker sandbox."""
