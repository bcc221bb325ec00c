"""Whole-space build check: which programs of a space cannot be built, and under which decisions.

`check_space` builds programs on torch's meta device (no weights are allocated, so a large layer
costs microseconds) for every combination of the decisions that can change a shape (the target's,
the hypernetwork's and the data's discrete decisions: widths, kernels, `n`, `k`, depths,
branches, `generate`), or, when there are more combinations than the budget, for a random sample
plus every value of each such decision at least once. Decisions of the training recipe, the
objective and the search, and every floatv, are drawn once: they change no shape. The report
names the decision values under which every checked program fails, so a user reads "when
`target.layers[0].n = 3`" rather than one failed sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from hypsearch.decisions import Kind
from hypsearch.decisions.table import is_active
from hypsearch.dsl.errors import HypError
from hypsearch.dsl.tree import ABSENT

# Decisions under these top-level fields change no shape of the built model.
_SHAPELESS = ("train", "objective", "search", "augment")


@dataclass
class Failure:
    """One kind of build error: the first error seen and how many checked programs raised it."""

    error: HypError
    count: int = 0


@dataclass
class BuildReport:
    """What `check_space` found: programs checked, failures, and the decision values behind them."""

    checked: int = 0
    failed: int = 0
    exhaustive: bool = True
    combinations: Optional[int] = None  # shape-relevant combinations (None: more than counted)
    failures: List[Failure] = field(default_factory=list)
    culprits: List[Tuple[str, str]] = field(default_factory=list)  # (decision, value text)
    skipped: Optional[str] = None  # why nothing was built

    @property
    def every_fails(self) -> bool:
        """True when no checked program could be built."""
        return self.checked > 0 and self.failed == self.checked

    def describe(self) -> str:
        """The finding in one paragraph (empty when every checked program builds)."""
        if not self.failed:
            return ""
        first = self.failures[0].error
        if self.every_fails:
            head = f"every program fails to build ({self.checked} checked)"
        else:
            scope = "all" if self.exhaustive else "sampled"
            head = f"some programs fail to build ({self.failed} of {self.checked} {scope} shape combinations)"
            if self.culprits:
                head += ": when " + " or ".join(f"`{n} = {v}`" for n, v in self.culprits)
        if self.every_fails:
            lines = [head, first.render()]
        else:  # the build error at its location, as a warning: the space stays usable
            text = HypError(f"{head}: {first.message}", first.location, first.source_line).render()
            lines = [text.replace("error: ", "warning: ", 1)]
        if len(self.failures) > 1:
            lines.append(f"(and {len(self.failures) - 1} other build error"
                         f"{'s' if len(self.failures) > 2 else ''}, e.g. {self.failures[1].error.message})")
        return "\n".join(lines)


def buildable(program: Any, input_shape: Optional[Sequence[int]] = None) -> Optional[HypError]:
    """None when the program builds on the meta device, else the HypError building raises."""
    import torch

    from .build import build

    try:
        with torch.device("meta"):
            build(program, input_shape=input_shape)
    except HypError as e:
        return e
    except Exception:  # a lowering that needs real tensors: only a real build can tell
        try:
            build(program, input_shape=input_shape)
        except HypError as e:
            return e
    return None


def _relevant(d: Any) -> bool:
    return d.kind is not Kind.FLOAT and d.name.split(".")[0].split("[")[0] not in _SHAPELESS


def _value_text(d: Any, v: Any) -> str:
    if d.kind is Kind.CHOICE:
        return d.choices[v]
    if d.kind is Kind.SUBSET:
        return "[" + ", ".join(d.choices[i] for i in v) + "]"
    return str(v)


def _enumerate(space: Any, base: Dict[str, Any], limit: int) -> Optional[List[Dict[str, Any]]]:
    """Every assignment over the relevant decisions (others at `base`), or None past `limit`."""
    rows: List[Dict[str, Any]] = [{}]
    for d in space.decisions:
        grown: List[Dict[str, Any]] = []
        for a in rows:
            if not is_active(d, a):
                grown.append(a)
            elif _relevant(d):
                if d.size is None or d.size * len(rows) > limit:
                    return None
                grown.extend({**a, d.name: v} for v in d.values())
            else:
                grown.append({**a, d.name: base[d.name]})
        rows = grown
        if len(rows) > limit:
            return None
    return rows


def _sampled(space: Any, budget: int, rng: np.random.Generator) -> List[Dict[str, Any]]:
    """Each value of every relevant decision once (where some parent values make it active),
    then random assignments up to the budget."""
    enc = space.encoding
    out: List[Dict[str, Any]] = []
    for i, d in enumerate(space.decisions):
        if not _relevant(d):
            continue
        values = enc.values(i)
        if len(values) > 16:  # a wide intv: its ends and a few between
            picks = [0, len(values) - 1] + sorted(rng.choice(len(values), 6, replace=False).tolist())
            values = [values[j] for j in picks]
        for v in values:
            for _ in range(8):  # a random context in which the decision is active
                row = enc.sample_raw(1, rng)
                row[0, enc.slots[i]] = v
                enc.apply_conditions(row)
                if not np.isnan(row[0, enc.slots[i].start]):
                    out.append(enc.to_assignment(row[0]))
                    break
    while len(out) < budget:
        out.append(enc.to_assignment(enc.sample(1, rng)[0]))
    return out


def _culprits(space: Any, results: List[Tuple[Dict[str, Any], bool]]) -> List[Tuple[str, str]]:
    """Values of one relevant decision under which every checked program failed (and some
    program with another value built)."""
    out = []
    for d in space.decisions:
        if not _relevant(d):
            continue
        seen: Dict[Any, List[bool]] = {}
        for a, ok in results:
            if d.name in a:
                seen.setdefault(a[d.name], []).append(ok)
        if len(seen) < 2 or not any(any(v) for v in seen.values()):
            continue
        for value, oks in seen.items():
            if not any(oks):
                out.append((d.name, _value_text(d, value)))
    return out[:6]


def _shape_program(space: Any, assignment: Dict[str, Any]) -> Any:
    """The program's data, target and hypernetwork only: materializing the rest costs most of a
    check and changes no shape."""
    fields = space.root.fields
    kwargs = {}
    for key in ("data", "target", "hypernet"):
        if key in fields:
            value = fields[key].materialize(assignment)
            if value is not None and value is not ABSENT:
                kwargs[key] = value
    try:
        return space.root.program_cls(**kwargs)
    except Exception:  # a field's own default depends on others: the whole program then
        return space.materialize(assignment)


def check_space(space: Any, budget: int = 128, seed: int = 0,
                input_shape: Optional[Sequence[int]] = None) -> BuildReport:
    """Build the space's shape combinations on the meta device and report which fail."""
    report = BuildReport()
    if space.root.fields.get("target") is None:
        report.skipped = "no target network"
        return report
    rng = np.random.default_rng(seed)
    base = space.encoding.to_assignment(space.encoding.sample_raw(1, rng)[0])
    rows = _enumerate(space, base, budget)
    if rows is None:
        report.exhaustive = False
        rows = _sampled(space, budget, rng)
    else:
        report.combinations = len(rows)
    failures: Dict[Tuple[Any, str], Failure] = {}
    results = []
    for a in rows:
        program = _shape_program(space, a)
        if input_shape is None and (program.data is None or not hasattr(program.data, "info")
                                    or program.data.info() is None):
            report.skipped = "the data does not tell its input shape without loading"
            return BuildReport(skipped=report.skipped)
        err = buildable(program, input_shape)
        results.append((a, err is None))
        report.checked += 1
        if err is not None:
            report.failed += 1
            key = (str(err.location) if err.location else None, err.message.split(":")[0])
            failures.setdefault(key, Failure(err)).count += 1
    report.failures = sorted(failures.values(), key=lambda f: -f.count)
    if report.failed and not report.every_fails:
        report.culprits = _culprits(space, results)
    return report
