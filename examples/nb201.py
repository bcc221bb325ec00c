"""Objective of examples/nb201.hyp: NAS-Bench-201 CIFAR-10 accuracies looked up in a table.

The table is benchmarks/data/nasbench201.csv (see benchmarks/data/README.md for its provenance).
`hypsearch run` executes a copy of this file from the experiment directory, so the table is looked
for beside the original checkout too; HYPSEARCH_NB201_CSV names it explicitly.
"""

import csv
import functools
import os
from typing import Dict, Sequence, Tuple

_RELATIVE = os.path.join("benchmarks", "data", "nasbench201.csv")


def table_path() -> str:
    """The table: $HYPSEARCH_NB201_CSV, beside this file's checkout, or beside hypsearch's."""
    import hypsearch
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.environ.get("HYPSEARCH_NB201_CSV"), os.path.join(here, "..", _RELATIVE),
                  os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(hypsearch.__file__))), _RELATIVE)]
    for path in candidates:
        if path and os.path.isfile(path):
            return path
    raise FileNotFoundError(f"NAS-Bench-201 table not found (looked for {', '.join(c for c in candidates if c)}); "
                            "set HYPSEARCH_NB201_CSV")


@functools.lru_cache(maxsize=1)
def table() -> Dict[str, Tuple[float, float]]:
    """arch string -> (cifar10 validation accuracy, cifar10 test accuracy)."""
    with open(table_path(), newline="") as f:
        return {row["arch_str"]: (float(row["cifar10_valid_acc"]), float(row["cifar10_test_acc"]))
                for row in csv.DictReader(f)}


def arch_string(cell: Sequence[str]) -> str:
    """The NAS-Bench-201 genotype string of 6 edge operations."""
    e = list(cell)
    return f"|{e[0]}~0|+|{e[1]}~0|{e[2]}~1|+|{e[3]}~0|{e[4]}~1|{e[5]}~2|"


def valid_accuracy(program) -> dict:
    """CIFAR-10 validation accuracy (the search signal) and test accuracy (for reporting)."""
    valid, test = table()[arch_string(program.params["cell"])]
    return {"value": valid, "cifar10_valid_acc": valid, "cifar10_test_acc": test}
