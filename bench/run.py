"""All the benchmarks, each beside its floors, in one run against one receiver: prints a
table, writes bench/results/latest.json, and with --update-readme puts the table in
README.md.

    .venv/bin/python bench/run.py            # full: a few minutes
    .venv/bin/python bench/run.py --smoke    # seconds: what CI runs (figures only)

Nothing is asserted: timings on shared machines are figures, not test results. Ratios are
ours / floor from the same run, the contenders taking turns, which is what survives a noisy
machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import sys
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from measures import (
    Figure,
    backlog_rss,
    batch_figures,
    import_figure,
    normalize_figure,
    outbox_figures,
    single_figures,
)
from receivers import fastest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpus": str(os.cpu_count()),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def render(figures: list[Figure], receiver: str, where: dict[str, str]) -> str:
    lines = [
        f"Machine: {where['cpu']}, {where['cpus']} CPUs, Python {where['python']}, "
        f"{where['date']}; receiver: {receiver}",
        "",
        "| benchmark | ours | µs/item | floor | floor rate | floor µs/item | ratio | target"
        " | met |",
        "|---|---:|---:|---|---:|---:|---:|---|---|",
    ]
    for f in figures:
        met = {True: "yes", False: "**no**", None: "-"}[f.met]
        lines.append(
            f"| {f.name} | {_number(f.ours, 1)} {f.unit} | {_number(f.per_item_us(f.ours), 2)}"
            f" | {f.floor_name} | {_number(f.floor)} | {_number(f.per_item_us(f.floor), 2)}"
            f" | {_number(f.ratio, 2)} | {f.target} | {met} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds")
    parser.add_argument("--repeats", type=int, default=5, help="best of N (full run)")
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args()
    smoke = args.smoke
    repeats = 1 if smoke else args.repeats
    figures: list[Figure] = [import_figure(1 if smoke else 5)]
    with fastest() as receiver:
        figures.append(normalize_figure(receiver, 2_000 if smoke else 50_000, repeats))
        for size in (100, 250, 1000):
            # The same events per size: 20 batches of 1000 is 20,000 events.
            figures += batch_figures(receiver, size, 2 if smoke else 20_000 // size, repeats)
        figures += single_figures(receiver, 200 if smoke else 2_000, repeats)
        figures += outbox_figures(receiver, 5_000 if smoke else 100_000, repeats)
        figures.append(backlog_rss(20_000 if smoke else 1_000_000, receiver))
        kind = receiver.kind
    where = machine()
    table = render(figures, kind, where)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    name = "smoke.json" if smoke else "latest.json"
    (RESULTS / name).write_text(
        json.dumps(
            {
                "machine": where,
                "receiver": kind,
                "smoke": smoke,
                "repeats": repeats,
                "figures": [
                    asdict(f)
                    | {
                        "ratio": f.ratio,
                        "us_per_item": f.per_item_us(f.ours),
                        "floor_us_per_item": f.per_item_us(f.floor),
                    }
                    for f in figures
                ],
            },
            indent=2,
        )
        + "\n"
    )
    if args.update_readme and not smoke:
        readme = ROOT / "README.md"
        text = readme.read_text()
        text = re.sub(
            r"(<!-- bench:start -->\n).*?(\n<!-- bench:end -->)",
            lambda m: m.group(1) + table + m.group(2),
            text,
            flags=re.DOTALL,
        )
        readme.write_text(text)


if __name__ == "__main__":
    main()
