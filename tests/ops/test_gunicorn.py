"""The image's server, run for real: gunicorn with docker/gunicorn.conf.py serving console.wsgi.

Everything it writes must be JSON lines (gunicorn's own lines included), one per request, and
the query strings of requests (which carry patient search terms) must appear nowhere.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def _get(url: str, headers: dict[str, str] | None = None) -> int:
    """The status of a GET, redirects not followed."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with _OPENER.open(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_gunicorn_writes_only_json_lines_and_no_query_strings(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),
        "CONSOLE_ENV": "testing",
        "CONSOLE_INSTANCE_PATH": str(tmp_path / "instance"),
        "PORT": str(port),
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "2",
        "LOG_LEVEL": "INFO",
    }
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [str(bin_dir / "flask"), "--app", "console", "db", "upgrade"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        check=True,
        timeout=120,
    )
    server = subprocess.Popen(
        [
            str(bin_dir / "gunicorn"),
            "--config",
            str(ROOT / "docker" / "gunicorn.conf.py"),
            "console.wsgi:app",
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(f"{base}/health/live") == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, server.communicate()[1]
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        assert _get(f"{base}/health/ready") == 200
        status = _get(
            f"{base}/patients/?q=Zebedee+Quartermaine&nhs=9434765919",
            {"X-Request-ID": "gunicorn-0001"},
        )
        assert status == 302, "signed out: sent to sign-in"
    finally:
        server.send_signal(signal.SIGTERM)
        stdout, stderr = server.communicate(timeout=30)

    assert stdout == "", "nothing on stdout"
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    assert any(e["logger"] == "gunicorn.error" and "Listening at" in e["message"] for e in lines)
    (request,) = [e for e in lines if e.get("request_id") == "gunicorn-0001"]
    assert (request["route"], request["status"]) == ("/patients/", 302)
    assert "Zebedee" not in stderr and "9434765919" not in stderr
    # One line per request: the sign-in redirect is not repeated by an access log.
    assert sum(1 for e in lines if e.get("event") == "request" and e["status"] == 302) == 1
