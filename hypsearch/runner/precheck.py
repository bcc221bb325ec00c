"""What `check` and the start of `run` decide before anything trains: the whole space.

A space is refused (HypError, at the `.hyp` location of the mistake) when it is empty, when its
`search(...)` block names an unknown algorithm or option, when the objective's metric is one
training never reports, or when no program of the space can be built (`compile/check.py` builds
its shape combinations on the meta device). When only some programs fail to build, the space is
accepted with a warning naming the decision values behind the failures; `run` then skips such
proposals without spending trials (the coordinator's `precheck` hook records them invalid, so the
algorithm learns to avoid them).
"""

from __future__ import annotations

from typing import Any, List, Optional

from hypsearch.dsl.errors import HypError, suggest


def _at(node: Any, message: str) -> HypError:
    loc = getattr(node, "loc", None)
    return HypError(message, loc)


def check_not_empty(space: Any) -> None:
    """HypError for a file that defines nothing to search or train."""
    if not space.root.fields:
        where = f"{space.path}: " if getattr(space, "path", None) else ""
        raise HypError(f"{where}the file defines nothing: a space needs at least `data = ...` and "
                       "`target = ...` (see examples/quickstart.hyp)")


def check_search_block(space: Any) -> None:
    """The file's search(...) settings, validated as `run` would, at their location."""
    from .settings import resolve

    node = space.root.fields.get("search")
    if node is None:
        return
    try:
        resolve(space.search_settings(), {})
    except HypError as e:
        if e.location is not None:
            raise
        fields = getattr(node, "fields", {})
        target = node
        msg = e.message
        if msg.startswith("unknown algorithm") and "algo" in fields:
            target = fields["algo"]
        elif "has no option `" in msg and "options" in fields:
            bad = msg.split("has no option `", 1)[1].split("`", 1)[0]
            target = getattr(fields["options"], "items", {}).get(bad, fields["options"])
        elif msg.startswith("--trials") and "trials" in fields:
            target, msg = fields["trials"], "trials" + msg[len("--trials"):]
        raise _at(target, f"search(...): {msg}") from None


def reported_metrics(program: Any) -> Optional[List[str]]:
    """The metrics training reports for this program's data and regime (None: only loading tells)."""
    from .regimes import SEQUENTIAL, regime_name
    from .train import metric_names

    data = program.data
    info = data.info() if data is not None and hasattr(data, "info") else None
    if info is None:
        return None
    multitask = (info.tasks or 1) > 1
    names = metric_names(info, multitask)
    if multitask and info.num_classes is not None:
        names += (["task"] if regime_name(program.train) in SEQUENTIAL else []) + ["cl_accuracy", "forgetting"]
    return [n for n in names if n != "epoch"]


def check_metric(space: Any, program: Any) -> None:
    """HypError at the objective's metric when training never reports it (every objective's and
    every constraint's, for lists; the built-in metrics params, flops, latency_ms always count), and
    at the `python("...")` reference of a Python objective whose function cannot be found."""
    from .objectives import check_python_objectives

    check_python_objectives(space, program)
    if isinstance(program.objective, (list, tuple)) or getattr(program, "constraints", None):
        _check_metric_lists(space, program)
        return
    objective = program.objective
    metric = getattr(objective, "metric", None)
    if not isinstance(metric, str):  # a Python objective, or none (the default metric)
        return
    reported = reported_metrics(program)
    if reported is None or metric in reported:
        return
    node = space.root.fields.get("objective")
    target = getattr(node, "fields", {}).get("metric", node)
    raise _at(target, f"the objective's metric `{metric}` is not reported by training on "
                      f"{type(program.data).__hyp_name__}{suggest(metric, reported)}; reported: {', '.join(reported)}")


def _check_metric_lists(space: Any, program: Any) -> None:
    from .measure import BUILTIN
    from .objectives import has_python

    reported = reported_metrics(program)
    if reported is None:
        return
    reported = reported + [m for m in BUILTIN if m not in reported]
    if has_python(program):  # other names may be entries of the functions' dicts: the trial tells
        return
    for field, what in (("objective", "objective's"), ("constraints", "constraint's")):
        given = getattr(program, field, None)
        given = given if isinstance(given, (list, tuple)) else ([given] if given is not None else [])
        node = space.root.fields.get(field)
        items = list(getattr(node, "items", None) or [node] * len(given))
        for i, component in enumerate(given):
            metric = getattr(component, "metric", None)
            if not isinstance(metric, str) or metric in reported:
                continue
            item = items[i] if i < len(items) else node
            target = getattr(item, "fields", {}).get("metric", item) if item is not None else None
            raise _at(target, f"the {what} metric `{metric}` is not reported by training on "
                              f"{type(program.data).__hyp_name__}{suggest(metric, reported)}; "
                              f"reported: {', '.join(reported)}")


def check_recipe(space: Any, program: Any) -> None:
    """HypError at the `train(...)` argument training would refuse (epochs = 0 and the like)."""
    from hypsearch.dsl.vocabulary.training import train as TrainRecipe

    from .train import _check_recipe

    try:
        _check_recipe(program.train if program.train is not None else TrainRecipe())
    except HypError as e:
        node = space.root.fields.get("train")
        words = e.message.removeprefix("train: ").split()
        field = words[0] if words else ""
        target = getattr(node, "fields", {}).get(field, node)
        raise _at(target, e.message) from None


def check_builds(space: Any, budget: int = 128) -> Any:
    """The whole-space build report; HypError when every program fails to build."""
    from hypsearch.compile.check import check_space

    report = check_space(space, budget=budget)
    if report.every_fails:
        first = report.failures[0].error
        raise HypError(f"every program of the space fails to build ({report.checked} checked): {first.message}",
                       first.location, first.source_line)
    return report


def precheck(space: Any, budget: int = 128, search_block: bool = True, build: bool = True) -> List[str]:
    """Every whole-space check: HypError for a space no trial can run; warnings otherwise
    (`search_block=False`: the run's own settings, already resolved, replace the file's;
    `build=False`: no metric or build check, so no torch)."""
    check_not_empty(space)
    if search_block:
        check_search_block(space)
    if not build:
        return []
    program = space.sample(seed=0)
    check_metric(space, program)
    if program.target is not None:
        check_recipe(space, program)
    warnings = []
    if program.target is not None:
        report = check_builds(space, budget)
        if report.failed:
            warnings.append(report.describe())
    return warnings


def build_error(program: Any) -> Optional[str]:
    """Why this program cannot be built (meta device), or None: the run's per-proposal check."""
    from hypsearch.compile.check import buildable

    if program.target is None:
        return None
    data = program.data
    if data is None or not hasattr(data, "info") or data.info() is None:
        return None
    err = buildable(program)
    return None if err is None else f"HypError: {err.message}"
