"""``python -m bench``: run the benchmark suite, print the table, write bench/RESULTS.md.

``python -m bench --only overhead,calls`` runs a subset. Sections: overhead, load, calls,
scale, degraded, costs. Everything runs on loopback with bounded loops. Section 1 also
measures against the real HAPI FHIR and EHRbase when they run (``python -m stack up``, or the
``LIVE_*`` variables of the live tests), and says why not when they do not.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import platform
import shlex
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench.context import Context
from bench.core import NotRun, Row, table

SECTIONS = {
    "overhead": ("bench.overhead", "1 console overhead"),
    "load": ("bench.load", "2 under load"),
    "calls": ("bench.calls", "3 calls per page"),
    "scale": ("bench.scale", "4 scale (PostgreSQL)"),
    "degraded": ("bench.degraded", "5 degraded upstream"),
    "costs": ("bench.costs", "6 costs"),
}
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--only", default="", help="comma-separated sections: " + ", ".join(SECTIONS)
    )
    parser.add_argument("--users", type=int, default=100_000, help="users in the scale database")
    parser.add_argument("--events", type=int, default=1_000_000, help="audit events in it")
    parser.add_argument("--patients", type=int, default=200, help="synthetic patients in HAPI")
    parser.add_argument("--samples", type=int, default=30, help="timed requests per figure")
    parser.add_argument("--load-seconds", type=float, default=10, help="duration of each load run")
    parser.add_argument(
        "--memory-requests", type=int, default=10_000, help="requests before measuring memory"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the table")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()] or list(SECTIONS)
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s): {', '.join(unknown)}")
    args.sections = chosen
    return args


def machine() -> str:
    """A one-line description of this machine."""
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    return (
        f"{cpu}, {os.cpu_count()} cores{memory}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}"
    )


def revision() -> str:
    """The commit measured, and whether the working tree had changes on top of it."""
    import shutil
    import subprocess

    root = Path(__file__).resolve().parent.parent
    git = shutil.which("git")
    if git is None:
        return "unknown (no git)"
    try:
        head = subprocess.run(  # noqa: S603 (fixed arguments)
            [git, "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(  # noqa: S603 (fixed arguments)
            [git, "status", "--porcelain", "--", "console", "templates", "static"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + (" with uncommitted changes to the console" if dirty else "")


def postgres_version() -> str:
    """The PostgreSQL server version, or why it is not known."""
    try:
        import psycopg

        from bench.env import PG_ADMIN_DSN

        with psycopg.connect(PG_ADMIN_DSN, connect_timeout=3) as conn:
            return conn.execute("SHOW server_version").fetchone()[0]
    except Exception as exc:  # the report says why instead of failing
        return f"not reachable ({type(exc).__name__})"


def run(args: argparse.Namespace) -> list[Row]:
    """Run the chosen sections; a section that cannot run gives a "not run" row with the reason."""
    ctx = Context(args)
    rows: list[Row] = []
    try:
        for name in args.sections:
            module_name, title = SECTIONS[name]
            started = time.perf_counter()
            print(f"… {title}", file=sys.stderr, flush=True)
            try:
                module = importlib.import_module(module_name)
                rows.extend(module.run(ctx))
            except NotRun as exc:
                rows.append(Row(title, "(section)", "not run", note=str(exc)))
            except Exception as exc:
                traceback.print_exc()
                rows.append(Row(title, "(section)", "failed", note=f"{type(exc).__name__}: {exc}"))
            print(f"  {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    finally:
        ctx.close()
    return rows


def load_average() -> str:
    """The 1-minute load average now (what else is using the cores), or "unknown"."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


def report(rows: list[Row], args: argparse.Namespace, seconds: float, load: tuple[str, str]) -> str:
    """RESULTS.md: machine, date, command, the table and which targets are met."""
    met = [r for r in rows if r.met is True]
    missed = [r for r in rows if r.met is False]
    lines = [
        "# Benchmark results",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine()}",
        f"- PostgreSQL: {postgres_version()}",
        f"- revision: {revision()}",
        f"- command: `{' '.join(['python -m bench', *map(shlex.quote, sys.argv[1:])])}`",
        f"- duration: {seconds:.0f} s",
        f"- load average (1 min) at start / end: {load[0]} / {load[1]} on {os.cpu_count()} cores "
        "(anything above what the bench itself adds means other work shared the machine)",
        f"- scale: {args.users:,} users, {args.events:,} audit events; {args.patients} patients; "
        f"{args.samples} samples per figure",
        "",
        "Everything ran on this one machine over loopback: the console (in-process or under "
        "gunicorn), the emulators, the real HAPI FHIR and EHRbase (when section 1 found them "
        "running), PostgreSQL and the load generator share its cores.",
        "",
        "How each figure is taken: (1) the console under gunicorn vs. the very FHIR request it "
        "sent, replayed with a pooled client and the same headers, emulator latency fixed at "
        "20 ms, console and raw requests alternating; then the same against the real HAPI FHIR "
        "and EHRbase when they run (`python -m stack up`), every upstream request the page sent "
        "replayed one after another; (2) 16 keep-alive clients in two processes for a fixed "
        "time; (3) requests "
        "counted at the emulators and SQL statements counted on the auth engine, on the second "
        "of two identical requests; (4) in-process test clients on one PostgreSQL database, "
        "ours and Flask-Admin's stock ModelView (page size 50, same searchable columns) over "
        "the same users table, their requests alternating; (5) the HAPI emulator refusing connections, then hanging; "
        "(6) argon2 at the configured parameters, RSS of one gunicorn worker, and the gzip "
        "size of a first page load with every asset it links.",
        "",
        table(rows),
        "",
        f"Targets met: {len(met)} of {len(met) + len(missed)}.",
    ]
    if missed:
        lines += ["", "Not met:", *(f"- {r.section}: {r.figure} ({r.ours})" for r in missed)]
    not_run = [r for r in rows if r.ours in ("not run", "failed")]
    if not_run:
        lines += ["", "Not run:", *(f"- {r.section}: {r.figure}: {r.note}" for r in not_run)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    started, load_at_start = time.perf_counter(), load_average()
    rows = run(args)
    text = report(rows, args, time.perf_counter() - started, (load_at_start, load_average()))
    print(text)
    if not args.no_write:
        args.output.write_text(text)
        print(f"written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
