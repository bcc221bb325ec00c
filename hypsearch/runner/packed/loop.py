"""Evaluating a pack (`--pack K`, `--repeats R`): several proposals at a time, trained as populations.

`evaluate_pack(trials, programs, repeats)` (run by the inline executor's sandbox worker and by the
Ray executor's pack trainable, each pack holding up to pack / repeats trials) makes one member per
trial and seed (seeds train.seed, train.seed + 1, ...), groups the members whose
programs share a parameter structure (`grouping.pack_key`), splits each group to fit the memory
estimate, and trains each part with `train_population`; a part that runs out of memory anyway is
halved and trained again. Each trial is completed with its own journal line as soon as all its
members are done. A trial that cannot pack (see `grouping.why_alone`, `layout.unpackable_reason`),
or that is alone in its group, runs exactly as the inline executor runs it (`worker.run_trial`,
here in this process). With repeats a trial's value is the mean over its seeds; the record's
`repeats` field keeps each seed's value and their standard deviation (the noise level).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from hypsearch.search.trial import Status, Trial

from . import grouping
from .layout import unpackable_reason

log = logging.getLogger("hypsearch.packed")


@dataclasses.dataclass
class _Unit:
    """One member to train: trial `slot` of the pack, its seed, and what became of it."""

    slot: int
    seed: int
    model: Any = None
    history: List[Dict[str, Any]] = dataclasses.field(default_factory=list)
    error: Optional[str] = None
    done: bool = False
    stopped: bool = False
    epochs: int = 1  # the recipe's
    batch_size: int = 1  # the recipe's


Stopper = Callable[[int, Dict[int, float]], Iterable[int]]


def evaluate_pack(trials: Sequence[Trial], programs: Sequence[Any], repeats: int = 1, device: str = "cpu",
                  base_dir: Optional[str] = None, threads: int = 1, memory_budget: Optional[int] = None,
                  stopper: Optional[Stopper] = None) -> Iterator[Tuple[Trial, Any, bool]]:
    """(finished trial, its trained model or None, whether its error concerns every trial) for each
    trial, as each is done: packed where the programs allow it, alone otherwise. `stopper(epoch,
    {trial id: objective value})`, asked after every epoch, names the trials to stop there (an
    early-stopping scheduler's rule, per member): they end STOPPED with the budget they used."""
    repeats = max(1, int(repeats))
    started = time.time()
    units: List[_Unit] = []
    keys: List[Any] = []
    alone: List[int] = []
    context: Dict[int, Tuple[Any, Any, Any]] = {}  # slot -> (dataset, objective, task_input)
    data_cache: Dict[str, Any] = {}
    for slot, program in enumerate(programs):
        prepared = _prepare(program, base_dir, device, data_cache)
        if prepared is None:
            alone.append(slot)
            continue
        recipe = grouping.recipe_of(program)
        built = _build(program, prepared[0], [int(recipe.seed) + j for j in range(repeats)])
        if built is None:
            alone.append(slot)
            continue
        context[slot] = prepared
        key = (grouping.pack_key(program, device), prepared[2])
        for seed, model in built:
            units.append(_Unit(slot, seed, model, epochs=int(recipe.epochs), batch_size=int(recipe.batch_size)))
            keys.append(key)
    groups = grouping.group(list(zip(units, keys)))
    for indices in groups:
        if len(indices) == 1 and repeats == 1:  # a group of one runs as today
            alone.append(units[indices[0]].slot)
            for i in indices:
                units[i].done = True
    pending = {slot for slot in range(len(programs)) if slot not in alone}
    for slot in sorted(alone):
        for out in _run_alone(trials[slot], programs[slot], repeats, device, base_dir, threads, stopper):
            yield out
    for indices in groups:
        members = [units[i] for i in indices if not units[i].done]
        if not members:
            continue
        failed_slots = _train_group(members, programs, context, device, memory_budget,
                                    _member_hook(stopper, trials, context) if stopper is not None else None)
        for slot in sorted({u.slot for u in members}):
            if slot not in pending:
                continue
            mine = [u for u in units if u.slot == slot]
            if slot in failed_slots:  # the population could not train it: as it would run unpacked
                pending.discard(slot)
                yield from _run_alone(trials[slot], programs[slot], repeats, device, base_dir, threads, stopper)
            elif all(u.done for u in mine):
                pending.discard(slot)
                yield _finish(trials[slot], mine, context[slot], started, device)


def _prepare(program: Any, base_dir: Optional[str], device: str, cache: Dict[str, Any]):
    """(dataset, objective, task_input) of a program that may pack, or None (it runs alone)."""
    from hypsearch.data import load_data

    from ..train import metric_names
    from ..trial import objective_of

    if grouping.why_alone(program, device) is not None or program.imports:
        return None
    if not _valid_recipe(grouping.recipe_of(program)):
        return None
    data_key = grouping._json(program.data)
    try:
        if data_key not in cache:
            cache[data_key] = load_data(program.data, base_dir)
        dataset = cache[data_key]
        objective = objective_of(program, dataset.classification)
    except Exception:  # run alone, where the same error is reported the usual way
        return None
    if objective.metric not in metric_names(dataset.info, dataset.multitask):
        return None
    hyper = program.hypernet
    task_input = dataset.multitask or (hyper is not None and getattr(hyper.input, "__hyp_name__", "") == "task_embedding")
    return dataset, objective, task_input


def _valid_recipe(recipe: Any) -> bool:
    """Whether `fit` would accept the recipe (a mistake in it is reported by the unpacked path),
    checked without building a torch optimizer, which a population does not use."""
    from ..optimizers import check_optimizer
    from ..schedules import schedule_factor
    from ..train import _check_recipe

    try:
        _check_recipe(recipe)
        if not check_optimizer(recipe.optimizer, recipe.weight_decay):
            return False  # only building it would tell: it runs alone, where fit does
        schedule_factor(recipe.schedule, 1, int(recipe.epochs))
    except Exception:
        return False
    return True


def _build(program: Any, dataset: Any, seeds: Sequence[int]) -> Optional[List[Tuple[int, Any]]]:
    """A model per seed, each built as `evaluate` builds it (seeded first), or None to run alone."""
    from hypsearch.compile import build

    from ..train import seed_everything

    out = []
    for seed in seeds:
        seed_everything(seed)
        try:
            model = build(program, input_shape=tuple(dataset.info.input_shape), tasks=max(1, int(dataset.tasks or 1)))
        except Exception:  # invalid programs are recorded by the usual path
            return None
        if unpackable_reason(model) is not None:
            return None
        out.append((seed, model))
    return out


def _member_hook(stopper: Stopper, trials: Sequence[Trial], context: Dict[int, Any]):
    """`train_population`'s on_epoch for a part: each trial's objective (the mean over its seeds in
    the part) goes to the stopper, and the members of the trials it stops are named."""

    def hook(part: List[_Unit]):
        def on_epoch(epoch: int, reported: Dict[int, Dict[str, Any]]) -> List[int]:
            by_slot: Dict[int, List[float]] = {}
            for i, metrics in reported.items():
                slot = part[i].slot
                by_slot.setdefault(slot, []).append(float(metrics[context[slot][1].metric]))
            stop = set(stopper(epoch, {trials[s].id: float(np.mean(v)) for s, v in by_slot.items()}))
            return [i for i, u in enumerate(part) if trials[u.slot].id in stop]
        return on_epoch
    return hook


def _train_group(members: List[_Unit], programs: Sequence[Any], context: Dict[int, Any], device: str,
                 budget: Optional[int], hook=None) -> set:
    """Train members of one group in parts that fit; the slots that must run alone instead."""
    from .population import Member, PopulationTooLarge, train_population

    dataset, _, task_input = context[members[0].slot]
    recipe = grouping.recipe_of(programs[members[0].slot])
    per_member = grouping.member_bytes(members[0].model, int(recipe.batch_size), len(dataset.x_val))
    limit = budget if budget is not None else grouping.memory_budget(device)
    parts = [[members[i] for i in part] for part in grouping.chunks(range(len(members)), per_member, limit)]
    if len(parts) > 1:
        log.info("a pack of %d members (about %.1f MiB each) is split in %d parts to fit %.0f MiB",
                 len(members), per_member / 2**20, len(parts), limit / 2**20)
    failed: set = set()
    while parts:
        part = parts.pop(0)
        population = []
        for u in part:
            program = programs[u.slot]
            obj = context[u.slot][1]
            population.append(Member(u.model, grouping.recipe_of(program), u.seed, (obj.metric, obj.mode)))
        try:
            results, layout = train_population(population, dataset, device=device, task_input=task_input,
                                               on_epoch=hook(part) if hook is not None else None)
        except PopulationTooLarge as e:
            if len(part) == 1:
                failed.add(part[0].slot)
                continue
            log.info("a population of %d ran out of memory (%s): halved", len(part), e)
            half = (len(part) + 1) // 2
            parts[:0] = [part[:half], part[half:]]
            continue
        except Exception as e:  # never train wrongly: these members run as they would unpacked
            log.warning("packed training failed (%s: %s); these trials run alone", type(e).__name__, e)
            failed.update(u.slot for u in part)
            continue
        for i, (u, r) in enumerate(zip(part, results)):
            u.history, u.error, u.done, u.stopped = r.history, r.error, True, r.stopped
            _load(u.model, layout.member_state(i))
    return failed


def _load(model: Any, state: Dict[str, Any]) -> None:
    import torch

    with torch.no_grad():
        for name, value in state.items():
            model.get_parameter(name).copy_(value.reshape(model.get_parameter(name).shape))


def _finish(trial: Trial, units: List[_Unit], context: Tuple[Any, Any, Any], started: float,
            device: str) -> Tuple[Trial, Any, bool]:
    """The finished trial of its members: one seed's result, or the mean over the seeds."""
    dataset, objective, _ = context
    metric = objective.metric
    values = [float(u.history[-1][metric]) if u.error is None and u.history else None for u in units]
    ok = [i for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    fields: Dict[str, Any] = {"started": started, "finished": time.time()}
    if len(units) > 1:
        good = [values[i] for i in ok]
        fields["repeats"] = {"seeds": [u.seed for u in units], "values": values,
                             "std": float(np.std(good, ddof=1)) if len(good) > 1 else (0.0 if good else None),
                             "errors": {str(u.seed): u.error for u in units if u.error is not None}}
    if not ok:
        first = units[0]
        error = first.error or f"objective value is {values[0]!r}"
        return dataclasses.replace(trial, status=Status.FAILED, error=error, metrics=list(first.history),
                                   **fields), None, False
    model = units[ok[0]].model
    model.input_normalization = dataset.normalization  # saved with the weights (see runner.export)
    if len(units) == 1:
        history = [dict(h) for h in units[0].history]
        value = values[0]
    else:
        history = _mean_history([units[i].history for i in ok])
        value = float(np.mean([values[i] for i in ok]))
    stopped = any(u.stopped for u in units)
    _builtin_metrics(history, model, dataset, context[2], units[ok[0]].batch_size, device, timed=not stopped)
    if stopped:  # a scheduler stopped it: the budget it used, as a stopped unpacked trial
        epochs = max(1, units[0].epochs)
        return dataclasses.replace(trial, status=Status.STOPPED, value=value, metrics=history,
                                   budget=min(len(history) / epochs, 1.0), **fields), model, False
    return dataclasses.replace(trial, status=Status.OK, value=value, metrics=history, budget=1.0,
                               **fields), model, False


def _builtin_metrics(history: List[Dict[str, Any]], model: Any, dataset: Any, task_input: bool, batch_size: int,
                     device: str, timed: bool) -> None:
    """The built-in metrics an unpacked trial records (runner.measure), added to the member's history:
    the static ones on every epoch, the timed ones (`timed`: a trial that finished) on the last."""
    from ..measure import latency_metrics, static_metrics

    static = static_metrics(model, dataset.info.input_shape, task_input=task_input)
    for h in history:
        h.update(static)
    if timed and history:
        model.to(device)  # timed where it trained, as an unpacked trial is
        history[-1].update(latency_metrics(model, dataset.info.input_shape, batch_size, device,
                                           task_input=task_input))


def _mean_history(histories: List[List[Dict[str, Any]]]) -> List[Dict[str, Any]]:
    """Per-epoch means over the seeds (epochs all of them reached)."""
    out = []
    for epoch in range(min(len(h) for h in histories)):
        rows = [h[epoch] for h in histories]
        merged: Dict[str, Any] = {}
        for key, value in rows[0].items():
            numbers = [r.get(key) for r in rows]
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers):
                merged[key] = value if key in ("epoch", "params") else float(np.mean(numbers))
            else:
                merged[key] = value
        out.append(merged)
    return out


def _stop_after(epochs: Optional[int]):
    """run_trial's (report, should_stop) ending training after `epochs` epochs, or (None, None)."""
    if epochs is None:
        return None, None
    seen = {"epochs": 0}

    def report(metrics: Dict[str, Any]) -> None:
        seen["epochs"] += 1

    return report, lambda: seen["epochs"] >= epochs


def _stop_rule(stopper: Optional[Stopper], tid: int):
    """run_trial's (report, should_stop) asking the stopper after each epoch, or (None, None)."""
    if stopper is None:
        return None, None
    from ..trial import OBJECTIVE_KEY

    state = {"stop": False}

    def report(metrics: Dict[str, Any]) -> None:
        value = metrics.get(OBJECTIVE_KEY)
        if metrics.get("epoch") is not None and value is not None:
            state["stop"] = tid in set(stopper(int(metrics["epoch"]), {tid: float(value)}))

    return report, lambda: state["stop"]


def _run_alone(trial: Trial, program: Any, repeats: int, device: str, base_dir: Optional[str],
               threads: int, stopper: Optional[Stopper] = None) -> Iterator[Tuple[Trial, Any, bool]]:
    """The trial as the inline executor runs it; with repeats, once per seed and the mean."""
    from ..worker import run_trial

    if repeats == 1:
        report, should_stop = _stop_rule(stopper, trial.id)
        yield run_trial(trial, program, device=device, base_dir=base_dir, threads=threads, report=report,
                        should_stop=should_stop)
        return
    recipe = grouping.recipe_of(program)
    seeds = [int(recipe.seed) + j for j in range(repeats)]
    runs = []
    # The seeds run one after another, so a scheduler (ASHA) judges the first one after each epoch,
    # as it would a trial without repeats; where it stops the first, the others stop at the same
    # epoch, so that the mean is over seeds given the same budget.
    stop_at: Optional[int] = None
    for j, seed in enumerate(seeds):
        seeded = program.clone(deep=True)
        if seeded.train is None:
            seeded.rebind({"train": recipe.clone(deep=True)})
        seeded.rebind({"train.seed": seed})
        report, should_stop = _stop_rule(stopper, trial.id) if j == 0 else _stop_after(stop_at)
        runs.append(run_trial(trial, seeded, device=device, base_dir=base_dir, threads=threads, report=report,
                              should_stop=should_stop))
        if j == 0 and runs[0][0].status is Status.STOPPED:
            stop_at = len(runs[0][0].metrics)
    fatal = any(f for _, _, f in runs)
    records = [r for r, _, _ in runs]
    values = [r.value if r.status.has_value else None for r in records]
    ok = [i for i, v in enumerate(values) if v is not None]
    info = {"seeds": seeds, "values": values,
            "std": float(np.std([values[i] for i in ok], ddof=1)) if len(ok) > 1 else (0.0 if ok else None),
            "errors": {str(s): r.error for s, r in zip(seeds, records) if r.error}}
    if not ok:
        yield dataclasses.replace(records[0], repeats=info), None, fatal
        return
    first = records[ok[0]]
    history = _mean_history([records[i].metrics for i in ok if records[i].metrics]) or first.metrics
    yield (dataclasses.replace(first, value=float(np.mean([values[i] for i in ok])), metrics=history, repeats=info,
                               started=records[0].started, finished=records[-1].finished), runs[ok[0]][1], fatal)
