"""Synthetic demo data for the sandbox and for real HAPI FHIR / EHRbase servers."""
