"""EHRbase (openEHR) client: EHRs, compositions, AQL with query parameters, templates.

No Flask in here: the client takes everything it needs as constructor arguments.
"""
