"""The console as gunicorn serves it in the benchmarks (config from ``BENCH_APP_CONFIG``)."""

from __future__ import annotations

import json
import os

from console import create_app

app = create_app(json.loads(os.environ["BENCH_APP_CONFIG"]))
