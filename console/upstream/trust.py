"""The log line an upstream answering with another patient's records must leave.

Such an answer is never shown (the caller refuses it and audits the refusal as ``denied``);
this warning is for the people running the console: it means an upstream is misbehaving (a
server bug, a mis-set subject namespace, a proxy caching the wrong answer).
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("console.upstream.trust")
EVENT = "upstream_wrong_patient"


def warn_wrong_patient(service: str, patient_id: str, what: str, **fields: Any) -> None:
    """Log a structured warning: ``service`` answered ``what`` that is not ``patient_id``'s."""
    log.warning(
        "%s answered with records that are not this patient's: %s (withheld)",
        service,
        what,
        extra={
            "fields": {
                "event": EVENT,
                "service": service,
                "patient_id": patient_id[:128],
                "what": what,
                **fields,
            }
        },
    )
