"""`hypsearch export DIR --trial N`: any trial of an experiment (a front member, say), as the
`.hyp` of its concrete program, or as a weights file when its weights were kept (the best's).

Only the best trial's weights outlive a run (the executors keep best.pt alone), so another trial
exports as its program text, which `hypsearch run` trains again (its seed fixes the result).
"""

from __future__ import annotations

import os

from hypsearch.dsl.api import dumps, loads
from hypsearch.dsl.errors import HypError

from .experiment import Experiment, ExperimentDir
from .state import write_text_atomic


def export_trial(directory: str, trial_id: int, out: str, trust: bool = False) -> str:
    """Write trial `trial_id` of the experiment to `out` (.hyp: its program; .pt: its model, when
    kept); the path written."""
    exp = Experiment.open(directory)
    found = [t for t in exp.trials if t.id == trial_id]
    if not found:
        ids = sorted(t.id for t in exp.trials)
        raise HypError(f"--trial {trial_id}: {exp.dir} has no finished trial {trial_id} "
                       f"(trials {ids[0]}-{ids[-1]})" if ids else f"--trial {trial_id}: {exp.dir} has no finished trial")
    record = found[0]
    out = os.path.abspath(out)
    if out.endswith(".pt"):
        best = exp.best
        if best is None or best.id != trial_id or exp.best_weights is None:
            raise HypError(f"--trial {trial_id}: only the best trial's weights are kept (trial "
                           f"{None if best is None else best.id}); export this one as .hyp (--out FILE.hyp) and "
                           f"train it with `hypsearch run FILE.hyp --trials 1`")
        from .export import export
        return export(directory, out, trust=trust)
    if not record.program:
        raise HypError(f"--trial {trial_id}: the journal holds no program text for it")
    # The text's relative paths are relative to the experiment's copy of the space: re-anchor them.
    program = loads(record.program, filename=ExperimentDir(directory).space_file()).sample()
    os.makedirs(os.path.dirname(out), exist_ok=True)
    text = dumps(program, path=out)
    write_text_atomic(out, text if text.endswith("\n") else text + "\n")
    return out
