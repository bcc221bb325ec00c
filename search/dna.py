"""A search algorithm as a pyglove `pg.geno.DNAGenerator`, for `pg.sample` and `pg.iter`.

The DNASpec is the flat one of the decision table (`hypsearch.decisions.dna.dna_spec`, what
`Space.dna_spec()` returns) or the hierarchical one pyglove derives from `Space.to_pyglove()`:
both name their points after the decisions, and the codec, which lives with the decision model,
reads and writes either. pyglove's loop proposes one
trial at a time and never reports skipped trials, so this wrapper is for plain sequential use;
the ask/tell interface of the algorithm is the main path.
"""

from __future__ import annotations

from typing import Any, Dict

import pyglove as pg

from hypsearch.decisions import dna as codec


class AlgorithmDNAGenerator(pg.geno.DNAGenerator):
    """Proposes the wrapped algorithm's programs as DNA and feeds rewards back to it."""

    @classmethod
    def wrap(cls, algorithm: Any) -> "AlgorithmDNAGenerator":
        """A generator driving `algorithm` (an `hypsearch.search.Algorithm`)."""
        gen = cls()
        gen._algorithm = algorithm
        return gen

    @property
    def algorithm(self) -> Any:
        """The wrapped algorithm."""
        return self._algorithm

    def _setup(self) -> None:
        codec.check_spec(self._algorithm.encoding.decisions, self.dna_spec)
        self._by_key: Dict[bytes, int] = {}

    def _propose(self) -> pg.DNA:
        trial = self._algorithm.propose()
        if trial is None:
            raise StopIteration()
        enc = self._algorithm.encoding
        self._by_key[enc.key(self._algorithm.row(trial))] = trial.id
        return codec.to_dna(enc.decisions, trial.assignment, self.dna_spec)

    def _feedback(self, dna: pg.DNA, reward: Any) -> None:
        enc = self._algorithm.encoding
        key = enc.key(enc.from_assignment(codec.from_dna(enc.decisions, dna, self.dna_spec)))
        tid = self._by_key.pop(key, None)
        if tid is None:
            raise ValueError(f"feedback for a DNA this generator did not propose (or already answered): {dna}")
        self._algorithm.tell(tid, float(reward))
