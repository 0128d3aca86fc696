"""Every shipped model of a dataset in one table, and their samples side by side.

    python -m benchmarks.zoo --dataset fashion_mnist --data-dir "$ZOO_DATA_DIR" [--out reports/zoo]
                             [--presets A,B]

The `compare` recipe (``deepzoo compare``, also part of ``run all``), on the full test
split, printing its table: see ``recipes/compare.py`` for the protocol. Writes
``<out>/compare/metrics.md`` and ``<out>/compare/samples.png``.

A full-data run also records its rows in ``benchmarks/results/zoo_<dataset>.json``, one
row per preset (a ``--presets`` run replaces those rows alone): the figures of the zoo
tables in docs/results.md and the README are tested against that file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from benchmarks import without_option
from recipes import compare
from zoo.data import CLASS_NAMES
from recipes._report import markdown_table

RESULTS = Path(__file__).resolve().parent / "results"


def record_path(dataset: str) -> Path:
    """The committed record of the zoo's table on ``dataset``, a built-in dataset's name
    (a folder's path is not: the record of its scores would leave ``RESULTS``)."""
    if dataset not in CLASS_NAMES:
        raise ValueError(f"the zoo's tables are recorded for {sorted(CLASS_NAMES)}, not {dataset!r}")
    return RESULTS / f"zoo_{dataset}.json"


def record(rows: list, dataset: str, command: str) -> Path:
    """Merge ``rows`` into ``dataset``'s record, by preset, with the command that scored them."""
    path = record_path(dataset)
    recorded = json.loads(path.read_text()) if path.exists() else {"rows": []}
    by_preset = {row["preset"]: row for row in recorded["rows"]}
    by_preset.update({row["preset"]: {**row, "command": command} for row in rows})
    recorded["rows"] = sorted(by_preset.values(), key=lambda row: row["preset"])
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(recorded, indent=1) + "\n")
    return path


def main(argv=None) -> list:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--out" not in argv:
        argv += ["--out", "reports/zoo"]
    args = compare.build_parser().parse_args(argv)
    rows = compare.main(argv)
    print(markdown_table(rows))
    # The protocol of the docs' tables: a built-in dataset's full test split.
    if args.dataset in CLASS_NAMES and not args.quick and args.samples >= 10_000:
        command = " ".join(["python -m benchmarks.zoo", *(
            '"$ZOO_DATA_DIR"' if arg == args.data_dir else arg
            for arg in without_option(argv, "--out"))])
        print(f"recorded in {record(rows, args.dataset, command)}")
    return rows


if __name__ == "__main__":
    main()
