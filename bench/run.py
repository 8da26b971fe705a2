"""All the benchmarks, each beside its floor, in one run: prints a table, writes
bench/results/latest.json, and with --update-readme puts the table in README.md.

    .venv/bin/python bench/run.py            # full: a few minutes
    .venv/bin/python bench/run.py --smoke    # seconds: what CI runs (figures only)

Nothing is asserted: timings on shared machines are figures, not test results. Ratios are
ours / floor from the same run, which is what survives a noisy machine.
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
    encode_figures,
    import_figure,
    outbox_figures,
    single_figure,
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


def render(figures: list[Figure], receiver: str, where: dict[str, str]) -> str:
    lines = [
        f"Machine: {where['cpu']}, {where['cpus']} CPUs, Python {where['python']}, "
        f"{where['date']}; receiver: {receiver}",
        "",
        "| benchmark | ours | floor | ratio | target | met |",
        "|---|---:|---:|---:|---|---|",
    ]
    for f in figures:
        floor = f"{f.floor:,.0f}" if f.floor is not None else "-"
        ratio = f"{f.ratio:.2f}" if f.ratio is not None else "-"
        met = {True: "yes", False: "no", None: "-"}[f.met]
        lines.append(
            f"| {f.name} | {f.ours:,.1f} {f.unit} | {floor} | {ratio} | {f.target} | {met} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds")
    parser.add_argument("--backend", default="urllib3", choices=("urllib3", "requests"))
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args()
    smoke = args.smoke
    figures: list[Figure] = [import_figure(1 if smoke else 5)]
    figures += encode_figures(2_000 if smoke else 100_000, 1 if smoke else 3)
    with fastest() as receiver:
        figures += batch_figures(
            receiver, (100, 250, 1000), 2 if smoke else 20, 1 if smoke else 5, args.backend
        )
        figures.append(
            single_figure(receiver, 200 if smoke else 3_000, 1 if smoke else 5, args.backend)
        )
        figures += outbox_figures(receiver, 5_000 if smoke else 100_000, args.backend)
        kind = receiver.kind
    figures.append(backlog_rss(20_000 if smoke else 1_000_000))
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
                "figures": [asdict(f) | {"ratio": f.ratio} for f in figures],
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
