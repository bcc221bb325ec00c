"""`hypsearch export DIR --optuna FILE`: an experiment as an Optuna journal-storage study, so
`optuna-dashboard FILE` shows its history, parallel coordinates and parameter importances.

Each decision becomes its Optuna distribution (oneof and optional: categorical over the values or
the `.hyp` text of the components; intv: IntDistribution; floatv: FloatDistribution, log scale
kept; manyof: one categorical per chosen slot, `name[0]`, `name[1]`, ...). A trial holds only its
active decisions. ok trials are COMPLETE, stopped ones (a scheduler's early stop) PRUNED, failed
and invalid ones FAIL; per-epoch values of the objective are the intermediate values. The
program text of each trial, and the space's text on the study, are user attributes.
"""

from __future__ import annotations

import datetime
import os
import warnings
from typing import Any, Dict, List, Optional, Tuple

from hypsearch.dsl.errors import HypError
from hypsearch.search.trial import Status, Trial

from .experiment import Experiment
from .plot import objective_name


def _optuna():
    try:
        import optuna
    except ImportError:
        raise HypError("hypsearch export --optuna needs Optuna, from the `optuna` extra: "
                       "pip install 'hypsearch[optuna]'") from None
    return optuna


def _has_imports(text: str) -> bool:
    return any(line.lstrip().startswith("import ") or line.strip() == "import" for line in text.splitlines())


def load_space(exp: Experiment, trust: bool):
    """The experiment's space (its copy in DIR/space), refusing to run its imports unless trusted."""
    from hypsearch.dsl.api import load

    path = os.path.join(exp.dir, "space", exp.run["space_file"])
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if _has_imports(text) and not trust:
        raise HypError(f"{path} imports Python files or modules, which reading its decisions would run; "
                       "pass --trust if you trust the experiment")
    return load(path), text


def distributions(space: Any) -> Dict[str, Tuple[Any, Any]]:
    """Decision name -> (Optuna distribution, how to turn a user value into the parameter values)."""
    optuna = _optuna()
    D = optuna.distributions
    out: Dict[str, Tuple[Any, Any]] = {}
    for d in space.decisions:
        kind = str(getattr(d.kind, "value", d.kind))
        if kind == "choice":
            values = tuple(_categorical(v) for v in (d.literals if d.literals is not None else d.choices))
            out[d.name] = (D.CategoricalDistribution(values), _categorical)
        elif kind == "subset":
            values = tuple(_categorical(v) for v in (d.literals if d.literals is not None else d.choices))
            out[d.name] = (D.CategoricalDistribution(values), None)
        elif kind == "int":
            out[d.name] = (D.IntDistribution(int(d.low), int(d.high), log=bool(d.log)), int)
        elif kind == "float":
            out[d.name] = (D.FloatDistribution(float(d.low), float(d.high), log=bool(d.log)), float)
        else:
            raise HypError(f"decision `{d.name}` of kind {kind} has no Optuna distribution")
    return out


def _categorical(v: Any) -> Any:
    """A value Optuna's categorical distribution takes (None, bool, int, float, str)."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v)


STATES = {Status.OK: "COMPLETE", Status.STOPPED: "PRUNED", Status.FAILED: "FAIL", Status.INVALID: "FAIL"}


def frozen_trial(t: Trial, dists: Dict[str, Tuple[Any, Any]], metric: Optional[str]):
    """The Optuna FrozenTrial of a finished hypsearch trial."""
    optuna = _optuna()
    params, used = {}, {}
    for name, value in t.choices.items():
        if name not in dists:
            continue  # a decision the space no longer has
        dist, convert = dists[name]
        if convert is None:  # manyof: a slot per chosen candidate
            for i, v in enumerate(value):
                params[f"{name}[{i}]"] = _categorical(v)
                used[f"{name}[{i}]"] = dist
        else:
            params[name] = convert(value)
            used[name] = dist
    state = getattr(optuna.trial.TrialState, STATES[t.status])
    intermediate = {}
    if metric is not None:
        for step, m in enumerate(t.metrics):
            v = m.get(metric)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                intermediate[int(m.get("epoch", step + 1))] = float(v)
    attrs = {"hypsearch_id": t.id, "hypsearch_status": t.status.value, "program": t.program,
             "attempts": t.attempts}
    if t.error:
        attrs["error"] = t.error
    if t.budget is not None:
        attrs["budget"] = t.budget
    ft = optuna.trial.create_trial(
        state=state, value=t.value if t.status in (Status.OK, Status.STOPPED) else None,
        params=params, distributions=used, user_attrs=attrs, intermediate_values=intermediate)
    if t.started:
        ft.datetime_start = datetime.datetime.fromtimestamp(t.started)
    if t.finished:
        ft.datetime_complete = datetime.datetime.fromtimestamp(t.finished)
    return ft


def export_optuna(directory: str, out: str, trust: bool = False, study_name: Optional[str] = None) -> Tuple[str, str, int]:
    """Write the experiment in `directory` as a study in the Optuna journal file `out`;
    (path, study name, trials written)."""
    optuna = _optuna()
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    exp = Experiment.open(directory)
    space, text = load_space(exp, trust)
    dists = distributions(space)
    metric = objective_name(exp)
    name = study_name or os.path.basename(os.path.abspath(exp.dir))
    storage = JournalStorage(JournalFileBackend(os.path.abspath(out)))
    if name in [s.study_name for s in storage.get_all_studies()]:
        raise HypError(f"--optuna {out} already holds a study named `{name}`; write to another file")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=storage, study_name=name,
                                direction="maximize" if exp.mode == "max" else "minimize")
    study.set_user_attr("space", text)
    study.set_user_attr("experiment", exp.dir)
    study.set_user_attr("algorithm", exp.settings.algo)
    if metric:
        with warnings.catch_warnings():  # "experimental" since Optuna 3.2; the dashboard shows the name
            warnings.simplefilter("ignore")
            study.set_metric_names([metric])
    finished: List[Trial] = sorted((t for t in exp.trials if t.status.finished), key=lambda t: t.id)
    for t in finished:
        study.add_trial(frozen_trial(t, dists, metric))
    return os.path.abspath(out), name, len(finished)
