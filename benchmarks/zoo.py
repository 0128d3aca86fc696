"""Every shipped model of a dataset in one table, and their samples side by side.

    python -m benchmarks.zoo --dataset fashion_mnist --data-dir "$ZOO_DATA_DIR" [--out reports/zoo]

The `compare` recipe (``deepzoo compare``, also part of ``run all``), on the full test
split, printing its table: see ``recipes/compare.py`` for the protocol. Writes
``<out>/compare/metrics.md`` and ``<out>/compare/samples.png``.
"""

from __future__ import annotations

import sys

from recipes import compare
from recipes._report import markdown_table


def main(argv=None) -> list:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--out" not in argv:
        argv += ["--out", "reports/zoo"]
    rows = compare.main(argv)
    print(markdown_table(rows))
    return rows


if __name__ == "__main__":
    main()
