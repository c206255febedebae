"""The one upstream layer: transport, error kinds, client builders and health probes.

* ``errors``: the failure kinds both clients' errors subclass (one ``except`` per kind);
* ``transport``: the pooled session, retries, timeouts, overall deadline, size cap and JSON
  parsing that ``FhirClient`` and ``EhrbaseClient`` share (no Flask);
* ``builders``: each client built from the settings, and the app's shared clients;
* ``health``: one health probe per service, for the settings page and the status page.
"""
