"""Where a drain's CPU goes: per thread of the delivering processes, µs per event.

Fills a backlog through a parked relay (as `kameleoon-relay bench` does), starts the
delivering relay on it, and reads each thread's utime+stime from /proc over a window:
the delivery loop, the SQLite thread and the HTTP client's thread, per delivered event.
Linux only.

    .venv/bin/python bench/bench_drain_cpu.py [--events 40000] [--concurrency adaptive|N]
        [--far]   (the sink 100 ms away: CPU per event with many requests in flight)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import suite  # noqa: E402
from machine import describe  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def thread_cpu(pid: int) -> dict[tuple[str, str], float]:
    """(thread id, name) -> CPU seconds so far, for every thread of `pid`."""
    found = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        found[(tid, name)] = (int(fields[11]) + int(fields[12])) / TICKS
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40000)
    parser.add_argument("--concurrency", default="adaptive")
    parser.add_argument("--far", action="store_true", help="the sink 100 ms away")
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    print(describe())
    with tempfile.TemporaryDirectory(prefix="kameleoon-drain-cpu-") as tmp:
        concurrency = int(args.concurrency) if args.concurrency.isdigit() else args.concurrency
        bench = suite.Suite(suite.MODES["full"], Path(tmp), None, lambda line: None, concurrency)
        far = ("sink_far", "fill_far", "drain_far")
        sink, fill, drain = far if args.far else ("sink", "fill", "drain")
        url = bench.far_url if args.far else bench.sink_url
        try:
            bench._specs = bench.specs()
            bench.server(sink)
            bench.fill(args.events, fill)
            relay = bench.server(drain)
            time.sleep(2.0 if args.far else 0.5)  # sending, past slow start
            children = subprocess.run(
                ["pgrep", "-P", str(relay.proc.pid)], capture_output=True, text=True
            ).stdout.split()
            pids = [relay.proc.pid, *map(int, children)]
            before = {pid: thread_cpu(pid) for pid in pids}
            start, sent = time.monotonic(), bench.sink_count(url)["count"]
            time.sleep(args.seconds)
            after = {pid: thread_cpu(pid) for pid in pids}
            window, delivered = time.monotonic() - start, bench.sink_count(url)["count"] - sent
        finally:
            bench.close()
    rate = delivered / window
    print(
        f"delivered {rate:,.0f} events/s over {window:.1f} s (concurrency {args.concurrency}, "
        f"sink {'100' if args.far else '0'} ms away)"
    )
    for pid in pids:
        for key, seconds in after[pid].items():
            used = seconds - before[pid].get(key, 0.0)
            if used > 0.01:
                print(
                    f"  pid {pid} {key[1]:<24} {used / window:4.2f} cores"
                    f"  {used / window / rate * 1e6:6.1f} us/event"
                )


if __name__ == "__main__":
    main()
