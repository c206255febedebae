"""The no-Docker sandbox that ``make run`` serves, and synthetic demo data.

``patients`` and ``letters`` make the synthetic data (``flask sandbox seed`` loads it into the
emulators or into real HAPI FHIR / EHRbase servers); ``hapi``, ``ehrbase`` (with
``ehrbase_aql`` and ``ehrbase_opt``) and ``server`` are the loopback emulators of HAPI FHIR and
EHRbase, which the tests use too; ``runner`` (``python -m console.sandbox.runner``) starts both,
seeds them and serves the console.
"""
