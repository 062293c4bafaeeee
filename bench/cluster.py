"""The fault test's long version: three hub processes behind nginx on PostgreSQL and Redis
of their own, load through nginx (API messages and signed Twilio SMS), and ``--cycles``
rounds of faults (the router's leader SIGKILLed and started again, Redis restarted,
PostgreSQL cut off and back), ``--step`` accepted messages apart. Prints the figures of
each run: accepted, lost, duplicated, the lease's takeover times, the longest gap between
two accepted messages; and, as the baseline of the same run, the load's rate through
nginx without faults.

    .venv/bin/python bench/cluster.py [--cycles 10] [--step 1000] [--rounds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.databases import TEMPLATES  # noqa: E402
from tests.test_cluster import running_cluster, under_faults  # noqa: E402


async def one_round(cycles: int, step: int) -> tuple[float, float]:
    """Messages accepted per second under faults, and without (a cluster of its own each)."""
    rates: list[float] = []
    for faults in (cycles, 0):
        with tempfile.TemporaryDirectory() as folder:
            async with running_cluster(Path(folder)) as cluster:
                figures = await under_faults(cluster, cycles=faults, step=step)
        print(f"{'faults' if faults else 'baseline'} ({faults} cycles): {figures}")
        if figures.lost or figures.duplicated:
            print("LOST OR DUPLICATED MESSAGES", file=sys.stderr)
        chat = figures.chat
        if chat.stored_twice or chat.unseen or chat.shown_twice or chat.agent_repeats:
            print("CHAT REPLIES LOST OR REPEATED", file=sys.stderr)
        rates.append(figures.accepted / figures.seconds)
    return rates[0], rates[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--step", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    ratios = []
    try:
        for _ in range(args.rounds):
            faulted, bare = asyncio.run(one_round(args.cycles, args.step))
            ratios.append(faulted / bare)
            print(f"accepted/s under faults {faulted:.0f}, without {bare:.0f}: ratio {faulted / bare:.2f}")
    finally:
        TEMPLATES.close()  # the copies of the template database, and the template
    print(f"median ratio over {args.rounds} round(s): {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
