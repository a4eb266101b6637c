"""`make bench-ab`: the tick benchmark of an older commit and of the working tree, in turn.

    python scripts/bench_ab.py --base 453113b [--runs 2] [--seconds 20]

The older commit is checked out into a throwaway worktree (var/bench-base) and run with
this virtualenv's Python. Runs alternate A B A B ..., each on a freshly recreated and
migrated PostgreSQL database of its side (xquant_bench_a, xquant_bench_b), with Redis
database 10 emptied first. One line per run, then the median of each side:

    before (453113b): 748 ticks/s, p99 12.6 ms
    after (1a2b3c4): 731 ticks/s, p99 13.0 ms

The machine's speed drifts by a third within an hour, so only lines taken in the same
few minutes compare; that is why the sides alternate rather than run one after the other.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
BASE_TREE = ROOT / "var" / "bench-base"
LOG_DIR = ROOT / "var" / "bench-ab"
SUMMARY = re.compile(r"^(?P<rate>\d+) ticks/s, p50 (?P<p50>[\d.]+) ms, p99 (?P<p99>[\d.]+) ms$")


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(  # noqa: S603 - git on PATH, our own fixed subcommands
        ["git", *args],  # noqa: S607
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def checkout_base(ref: str) -> str:
    """A fresh detached worktree of `ref` at var/bench-base; returns its short sha."""
    sha = git("rev-parse", "--short", f"{ref}^{{commit}}")
    remove_base()
    git("worktree", "add", "--detach", "--force", str(BASE_TREE), sha)
    return sha


def remove_base() -> None:
    """Remove var/bench-base, also when an interrupted run left a bare directory."""
    if BASE_TREE.exists():
        try:
            git("worktree", "remove", "--force", str(BASE_TREE))
        except subprocess.CalledProcessError:
            shutil.rmtree(BASE_TREE)
    git("worktree", "prune")


def working_tree_label() -> str:
    sha = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"{sha}+changes" if dirty else sha


def run_side(tree: Path, database_url: str, redis_url: str, args, log) -> re.Match:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "XQUANT_ENV_FILE": "/nonexistent",
        "LOG_LEVEL": "WARNING",
        "DEBUG": "false",
    }
    python = sys.executable
    redis.Redis.from_url(redis_url).flushdb()
    steps = [
        [python, str(ROOT / "scripts" / "recreate_database.py"), database_url],
        [python, "manage.py", "migrate", "-v0"],
        [
            python,
            "manage.py",
            "bench_tick",
            "--symbols",
            str(args.symbols),
            "--strategies",
            str(args.strategies),
            "--seconds",
            str(args.seconds),
        ],
    ]
    for step in steps:
        # Our own Python, manage.py and script, with fixed arguments.
        done = subprocess.run(step, cwd=tree, env=env, capture_output=True, text=True)  # noqa: S603
        log.write(f"$ {' '.join(step)}  (in {tree})\n{done.stdout}{done.stderr}\n")
        log.flush()
        if done.returncode:
            sys.exit(f"failed in {tree}: {' '.join(step)}\n{done.stdout}{done.stderr}")
    last = done.stdout.strip().splitlines()[-1]
    match = SUMMARY.match(last)
    if not match:
        sys.exit(f"unexpected last line of bench_tick in {tree}: {last!r}")
    return match


def median_line(label: str, runs: list[re.Match]) -> str:
    rate = statistics.median(int(m["rate"]) for m in runs)
    p99 = statistics.median(float(m["p99"]) for m in runs)
    return f"{label}: {rate:.0f} ticks/s, p99 {p99:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="453113b", help="the commit to compare against")
    parser.add_argument("--runs", type=int, default=2, help="runs of each side")
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--strategies", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--database-a", default="postgres://postgres@127.0.0.1:5432/xquant_bench_a")
    parser.add_argument("--database-b", default="postgres://postgres@127.0.0.1:5432/xquant_bench_b")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/10")
    args = parser.parse_args()

    base_sha = checkout_base(args.base)
    after = working_tree_label()
    sides = {
        "A": (f"before ({base_sha})", BASE_TREE, args.database_a),
        "B": (f"after ({after})", ROOT, args.database_b),
    }
    results: dict[str, list[re.Match]] = {"A": [], "B": []}
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    print(
        f"{args.symbols} symbols × {args.strategies} strategies, {args.seconds:.0f} s a run, "
        f"A = {base_sha}, B = {after} (logs in {LOG_DIR.relative_to(ROOT)}/)",
        flush=True,
    )
    try:
        for number in range(1, args.runs + 1):
            for side, (label, tree, database_url) in sides.items():
                with open(LOG_DIR / f"{side}{number}.log", "w") as log:
                    match = run_side(tree, database_url, args.redis, args, log)
                results[side].append(match)
                print(f"{side}{number} {label}: {match.group(0)}", flush=True)
    finally:
        remove_base()
    for side, (label, _tree, _url) in sides.items():
        print(median_line(label, results[side]))


if __name__ == "__main__":
    main()
