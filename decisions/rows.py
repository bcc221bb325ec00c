"""Rows: the compact numpy encoding of a decision table that search algorithms work on.

A decision table becomes a few numpy arrays. A *row* is one program: a float vector with one slot
per decision (k slots for a subset decision) holding its encoded value, NaN where the decision is
inactive. Batches of rows are sampled, mutated and turned into surrogate features with a handful
of numpy operations, so an algorithm can score hundreds of candidates per proposal; pyglove DNA (a
full symbolic object per genome, about 30 samples/s measured) is produced only at the API boundary
(`dna.py`). Domains, conditions and counting come from the table itself (`model.py`, `table.py`).
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from .model import Decision, Kind
from .table import active_names, check_table, count_completions

CHOICE, INT, FLOAT, SUBSET = 0, 1, 2, 3
_KINDS = {Kind.CHOICE: CHOICE, Kind.INT: INT, Kind.FLOAT: FLOAT, Kind.SUBSET: SUBSET}
_ENUMERATE_LIMIT = 200_000
_BUMPS = 5  # Gaussian bumps per number in the surrogate features
_CENTRES = np.linspace(0.0, 1.0, _BUMPS)
_WIDTH = 1.0 / (_BUMPS - 1)


class RowEncoding:
    """Arrays describing a decision table, and batch operations on rows of encoded values."""

    def __init__(self, decisions: Sequence[Decision]):
        self.decisions = tuple(decisions)
        check_table(self.decisions)
        self.names = [d.name for d in self.decisions]
        self.index = {n: i for i, n in enumerate(self.names)}
        n = len(self.decisions)
        self.kind = np.zeros(n, dtype=int)
        self.n_values = np.zeros(n, dtype=int)  # discrete values (0 for floats)
        self.slots: List[slice] = []
        slot_dec, slot_kind, lo, hi, logs = [], [], [], [], []
        self.conditions = []  # (decision, parent, allowed parent values), parents first
        for i, d in enumerate(self.decisions):
            kind = _KINDS[d.kind]
            self.kind[i] = kind
            width = int(d.k) if kind == SUBSET else 1
            start = len(slot_dec)
            self.slots.append(slice(start, start + width))
            if kind in (CHOICE, SUBSET):
                low, high, log = 0.0, float(len(d.choices) - 1), False
                self.n_values[i] = len(d.choices)
            else:
                low, high = float(d.low), float(d.high)
                log = bool(d.log) and low > 0
                self.n_values[i] = int(high) - int(low) + 1 if kind == INT else 0
            for _ in range(width):
                slot_dec.append(i)
                slot_kind.append(kind)
                lo.append(low)
                hi.append(high)
                logs.append(log)
            c = d.condition
            if c is not None:
                self.conditions.append((i, self.index[c.parent], np.array(sorted(float(v) for v in c.values))))
        self.slot_dec = np.array(slot_dec, dtype=int)
        self.slot_kind = np.array(slot_kind, dtype=int)
        self.lo, self.hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
        self.log = np.array(logs, dtype=bool)
        self.width = len(slot_dec)
        self.first_slot = np.array([s.start for s in self.slots], dtype=int)
        self.conditional = np.array([d.condition is not None for d in self.decisions], dtype=bool)
        self.mutable = (self.kind == FLOAT) | (self.n_values > 1)
        self.mutable[self.kind == SUBSET] = [self.decisions[i].size > 1 for i in np.flatnonzero(self.kind == SUBSET)]
        self._discrete_single = np.flatnonzero((self.slot_kind == CHOICE) | (self.slot_kind == INT))
        self._float_slots = np.flatnonzero(self.slot_kind == FLOAT)
        self._subset_decs = np.flatnonzero(self.kind == SUBSET)
        self._build_scales()
        self._build_features()
        self.size = count_completions(self.decisions)
        self._all_rows: Optional[np.ndarray] = None

    # -- sampling --------------------------------------------------------------------------

    def sample_raw(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """`count` rows with a value in every slot (conditions not applied yet)."""
        u = rng.random((count, self.width))
        rows = self.from_unit(u)
        for i in self._subset_decs:
            rows[:, self.slots[i]] = self._sample_subsets(i, count, rng)
        return rows

    def sample(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """`count` random rows, uniform over the active decisions' domains."""
        return self.apply_conditions(self.sample_raw(count, rng))

    def apply_conditions(self, rows: np.ndarray) -> np.ndarray:
        """Set the slots of inactive decisions to NaN (in place; parents come first)."""
        for i, parent, values in self.conditions:
            holds = np.isin(rows[:, self.slots[parent]], values).any(axis=1)
            rows[~holds, self.slots[i]] = np.nan
        return rows

    def active(self, rows: np.ndarray) -> np.ndarray:
        """Boolean (rows x decisions) matrix of active decisions."""
        return ~np.isnan(rows[:, self.first_slot])

    def mutate(self, parents: np.ndarray, rng: np.random.Generator, local: float = 0.5) -> np.ndarray:
        """One mutant per parent row: one active decision gets a new value; decisions it switches
        on get fresh random values (a new sub-tree), those it switches off are dropped."""
        count = len(parents)
        fresh = self.sample_raw(count, rng)
        act = self.active(parents) & self.mutable[None, :]
        keys = rng.random(act.shape)
        keys[~act] = -1.0
        chosen = keys.argmax(axis=1)
        new = fresh.copy()
        # Choice and int decisions: a uniformly chosen *different* value.
        ds = self._discrete_single
        if len(ds):
            size = self.hi[ds] - self.lo[ds] + 1
            shift = 1 + np.floor(rng.random((count, len(ds))) * np.maximum(size - 1, 1))
            new[:, ds] = self.lo[ds] + np.mod(parents[:, ds] - self.lo[ds] + shift, size)
        # Floats: half the time a local Gaussian step in the (log-)scaled domain.
        fs = self._float_slots
        if len(fs):
            unit = self.to_unit(parents, fs) + 0.1 * rng.standard_normal((count, len(fs)))
            step = self.from_unit(np.clip(unit, 0.0, 1.0), fs)
            near = rng.random((count, len(fs))) < local
            new[:, fs] = np.where(near, step, fresh[:, fs])
        # Subsets: re-draw (a few times) where the fresh subset equals the parent's.
        for i in self._subset_decs:
            sl = self.slots[i]
            for _ in range(8):
                same = (chosen == i) & (new[:, sl] == parents[:, sl]).all(axis=1)
                if not same.any():
                    break
                new[same, sl] = self._sample_subsets(i, int(same.sum()), rng)
        mask = self.slot_dec[None, :] == chosen[:, None]
        rows = np.where(mask, new, parents)
        rows = np.where(np.isnan(rows), fresh, rows)
        stuck = ~act.any(axis=1)
        rows[stuck] = fresh[stuck]
        return self.apply_conditions(rows)

    # -- conversions -----------------------------------------------------------------------

    def _build_scales(self) -> None:
        # Per slot: value = exp?(offset + u * scale), the top of a discrete domain being high + 1
        # (floored); precomputed once, because sampling and mutation run on every proposal.
        top = np.where(self.slot_kind != FLOAT, self.hi + 1.0, self.hi)
        safe_lo = np.where(self.log, self.lo, 1.0)
        self._offset = np.where(self.log, np.log(safe_lo), self.lo)
        self._scale = np.where(self.log, np.log(np.where(self.log, top, 2.0)) - np.log(safe_lo), top - self.lo)
        self._log_slots = np.flatnonzero(self.log)
        self._discrete_slots = np.flatnonzero(self.slot_kind != FLOAT)
        # to_unit: [0, 1] over [low, high] (log where asked)
        self._u_offset = np.where(self.log, np.log(safe_lo), self.lo)
        span = np.where(self.log, np.log(np.where(self.log, self.hi, 2.0)) - np.log(safe_lo), self.hi - self.lo)
        self._u_span = np.where(span > 0, span, 1.0)

    def to_unit(self, rows: np.ndarray, slots: Optional[np.ndarray] = None) -> np.ndarray:
        """Values scaled to [0, 1] (log scale where asked); NaN stays NaN."""
        sl = slice(None) if slots is None else slots
        v = rows[:, sl] if slots is not None else rows
        log = self.log[sl]
        if log.any():
            v = v.copy()
            with np.errstate(invalid="ignore", divide="ignore"):
                v[:, log] = np.log(v[:, log])
        return (v - self._u_offset[sl]) / self._u_span[sl]

    def from_unit(self, u: np.ndarray, slots: Optional[np.ndarray] = None) -> np.ndarray:
        """Values from uniform numbers in [0, 1): the inverse of `to_unit` (integers floored)."""
        if slots is None:
            v = self._offset + u * self._scale
            if len(self._log_slots):
                v[:, self._log_slots] = np.exp(v[:, self._log_slots])
            if len(self._discrete_slots):
                v[:, self._discrete_slots] = np.floor(v[:, self._discrete_slots])
            return np.minimum(v, self.hi)
        v = self._offset[slots] + u * self._scale[slots]
        log = self.log[slots]
        v[:, log] = np.exp(v[:, log])
        discrete = self.slot_kind[slots] != FLOAT
        v[:, discrete] = np.floor(v[:, discrete])
        return np.minimum(v, self.hi[slots])

    def key(self, row: np.ndarray) -> bytes:
        """A hashable identity of a row (the same program gives the same key)."""
        return np.ascontiguousarray(row, dtype=float).tobytes()

    def to_assignment(self, row: np.ndarray) -> Dict[str, Any]:
        """The assignment (active decision name -> encoded value) of a row."""
        out: Dict[str, Any] = {}
        for i, d in enumerate(self.decisions):
            v = row[self.slots[i]]
            if np.isnan(v[0]):
                continue
            kind = self.kind[i]
            out[d.name] = (float(v[0]) if kind == FLOAT else tuple(int(x) for x in v) if kind == SUBSET else int(v[0]))
        return out

    def from_assignment(self, assignment: Mapping[str, Any]) -> np.ndarray:
        """The row of an assignment; ValueError for an unknown decision, a value outside its
        domain, or an assignment that sets an inactive or misses an active decision."""
        unknown = [n for n in assignment if n not in self.index]
        if unknown:
            raise ValueError(f"unknown decision `{unknown[0]}`")
        active = active_names(self.decisions, assignment)
        on = set(active)
        extra = [n for n in self.names if n in assignment and n not in on]
        if extra:
            raise ValueError(f"assignment sets inactive decisions: {', '.join(extra)}")
        missing = [n for n in active if n not in assignment]
        if missing:
            raise ValueError(f"assignment misses active decisions: {', '.join(missing)}")
        row = np.full(self.width, np.nan)
        for name in active:
            i = self.index[name]
            value = self.decisions[i].validate(assignment[name])
            row[self.slots[i]] = [float(x) for x in value] if self.kind[i] == SUBSET else [float(value)]
        return row

    def to_list(self, row: np.ndarray) -> list:
        """A JSON-able list (None for inactive slots)."""
        return [None if math.isnan(x) else (float(x) if self.slot_kind[j] == FLOAT else int(x)) for j, x in enumerate(row)]

    def from_list(self, values: Sequence[Optional[float]]) -> np.ndarray:
        """The inverse of `to_list`."""
        if len(values) != self.width:
            raise ValueError(f"a row of this space has {self.width} values, got {len(values)}")
        return np.array([np.nan if v is None else float(v) for v in values], dtype=float)

    def fingerprint(self) -> list:
        """Names, kinds and domain sizes: enough to refuse a state saved for another space."""
        return [[d.name, d.kind, int(self.n_values[i]), int(self.slots[i].stop - self.slots[i].start)] for i, d in enumerate(self.decisions)]

    # -- features for surrogate models ------------------------------------------------------

    def _build_features(self) -> None:
        col = 0
        choice_slots, choice_cols, subset_slots, subset_cols, num_slots, num_cols, ind_decs, ind_cols = ([] for _ in range(8))
        for i in range(len(self.decisions)):
            kind = self.kind[i]
            if kind == CHOICE:
                choice_slots.append(self.slots[i].start)
                choice_cols.append(col)
                col += int(self.n_values[i])
            elif kind == SUBSET:
                for s in range(self.slots[i].start, self.slots[i].stop):
                    subset_slots.append(s)
                    subset_cols.append(col)
                col += int(self.n_values[i])
            else:
                num_slots.append(self.slots[i].start)
                num_cols.append(col)
                col += 1 + _BUMPS
                if self.conditional[i]:
                    ind_decs.append(self.slots[i].start)
                    ind_cols.append(col)
                    col += 1
        self.n_features = col
        self._choice_slots, self._choice_cols = np.array(choice_slots, int), np.array(choice_cols, int)
        self._subset_slots, self._subset_cols = np.array(subset_slots, int), np.array(subset_cols, int)
        self._subset_weight = np.array([1.0 / (self.slot_dec == self.slot_dec[s]).sum() for s in subset_slots])
        self._num_slots, self._num_cols = np.array(num_slots, int), np.array(num_cols, int)
        self._ind_slots, self._ind_cols = np.array(ind_decs, int), np.array(ind_cols, int)
        self.feature_decision = np.zeros(col, dtype=int)  # which decision each column describes
        for s, c in zip(choice_slots, choice_cols):
            self.feature_decision[c:c + int(self.n_values[self.slot_dec[s]])] = self.slot_dec[s]
        for s, c in zip(subset_slots, subset_cols):
            self.feature_decision[c:c + int(self.n_values[self.slot_dec[s]])] = self.slot_dec[s]
        for s, c in zip(num_slots, num_cols):
            self.feature_decision[c:c + 1 + _BUMPS] = self.slot_dec[s]
        for s, c in zip(ind_decs, ind_cols):
            self.feature_decision[c] = self.slot_dec[s]

    def features(self, rows: np.ndarray) -> np.ndarray:
        """Surrogate features: one-hot of active choices, multi-hot of subsets, numbers scaled to
        [0, 1] (log where asked) followed by Gaussian bumps along that scale, so a linear model can
        place an optimum inside the range; an inactive decision is all zeros (numbers: plus an
        'inactive' flag)."""
        count = len(rows)
        out = np.zeros((count, self.n_features))
        r = np.arange(count)[:, None]
        if len(self._choice_slots):
            v = rows[:, self._choice_slots]
            ok = ~np.isnan(v)
            cols = self._choice_cols[None, :] + np.where(ok, v, 0).astype(int)
            out[np.broadcast_to(r, v.shape)[ok], cols[ok]] = 1.0
        if len(self._subset_slots):
            v = rows[:, self._subset_slots]
            ok = ~np.isnan(v)
            cols = self._subset_cols[None, :] + np.where(ok, v, 0).astype(int)
            np.add.at(out, (np.broadcast_to(r, v.shape)[ok], cols[ok]), np.broadcast_to(self._subset_weight, v.shape)[ok])
        if len(self._num_slots):
            u = self.to_unit(rows, self._num_slots)
            out[:, self._num_cols] = np.nan_to_num(u, nan=0.0)
            bumps = np.exp(-0.5 * ((u[:, :, None] - _CENTRES) / _WIDTH) ** 2)
            out[:, self._num_cols[:, None] + np.arange(1, 1 + _BUMPS)] = np.nan_to_num(bumps, nan=0.0)
        if len(self._ind_slots):
            out[:, self._ind_cols] = np.isnan(rows[:, self._ind_slots])
        return out

    # -- finite spaces ----------------------------------------------------------------------

    def _sample_subsets(self, i: int, count: int, rng: np.random.Generator) -> np.ndarray:
        d = self.decisions[i]
        n, k = len(d.choices), int(d.k)
        if d.distinct:
            v = np.argsort(rng.random((count, n)), axis=1)[:, :k].astype(float)
        else:
            v = rng.integers(0, n, size=(count, k)).astype(float)
        return np.sort(v, axis=1) if d.sorted else v

    def values(self, i: int) -> List[Any]:
        """All values of a discrete decision as slot tuples (ValueError for floats)."""
        if self.kind[i] == SUBSET:
            return [tuple(float(x) for x in v) for v in self.decisions[i].values()]
        return [(float(v),) for v in self.decisions[i].values()]

    def value_count(self, i: int) -> Optional[int]:
        """Number of values of decision i, None for floats."""
        return self.decisions[i].size

    def count_completions(self, prefix: np.ndarray, start: int) -> Optional[int]:
        """Number of programs whose decisions before `start` are those of `prefix` (None: infinite)."""
        return count_completions(self.decisions, self.to_assignment(prefix), start)

    def all_rows(self) -> Optional[np.ndarray]:
        """Every row of a finite space of at most 200,000 programs (cached), else None."""
        if self.size is None or self.size > _ENUMERATE_LIMIT:
            return None
        if self._all_rows is None:
            rows = np.full((1, self.width), np.nan)
            for i in range(len(self.decisions)):
                values = np.array(self.values(i))
                probe = rows.copy()
                probe[:, self.slots[i]] = values[0]
                on = ~np.isnan(self.apply_conditions(probe)[:, self.slots[i].start])
                keep = rows[~on]
                grow = np.repeat(rows[on], len(values), axis=0)
                grow[:, self.slots[i]] = np.tile(values, (int(on.sum()), 1))
                rows = np.concatenate([keep, grow]) if len(keep) else grow
            self._all_rows = rows
        return self._all_rows
