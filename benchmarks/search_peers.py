"""Peer search libraries for `bench_search.py`, each run through the same loop on a tabular problem.

A problem is a list of parameters (name, "cat", choices) or (name, "int", low, high), a signal
(what the search sees; noisy problems draw it from a seeded stream) and a report (the value of the
program a method names as its best). Each runner returns, per budget, the key of the program the
method names as its best after that many evaluations, the keys it evaluated, and the CPU seconds
its own suggest/observe calls took (the objective is not timed).

Peers: Optuna's default TPE sampler, SMAC3's hyperparameter-optimisation facade (random-forest
model; on a noisy problem it is told so, `deterministic=False`, and intensifies by re-evaluating
configurations, each re-evaluation counting as an evaluation; its incumbent is its named best),
and HEBO, which pins numpy below 1.25 and so lives in its own virtual environment, driven as a
subprocess (`hebo_driver.py`; set HYPSEARCH_HEBO_PYTHON to that environment's python, default
/work/hebo-venv/bin/python). Install the first two with `pip install 'hypsearch[bench]'`; HEBO with

    python3.11 -m venv /work/hebo-venv
    /work/hebo-venv/bin/pip install --only-binary=:all: "numpy<1.25" "scipy<1.12" "scikit-learn<1.4" \\
        "pandas<2.1" torch "pymoo==0.6.0" gpytorch GPy catboost disjoint-set hebo
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
HEBO_PYTHON = os.environ.get("HYPSEARCH_HEBO_PYTHON", "/work/hebo-venv/bin/python")


@dataclass
class Problem:
    """A tabular search problem, as every method sees it."""

    name: str
    params: List[tuple]  # (name, "cat", choices) or (name, "int", low, high)
    key: Callable[[Dict[str, object]], str]  # parameter values -> table key
    signal: Callable[[str, np.random.Generator], float]  # what the search sees (maximised)
    report: Callable[[str], float]  # what is reported for the named best
    optimum: str  # the key with the best expected signal
    noisy: bool
    decisions: list  # the hypsearch decision table
    to_values: Callable[[dict], Dict[str, object]]  # a hypsearch assignment -> parameter values


RunResult = Tuple[List[str], List[str], float]


def signal_stream(seed: int) -> np.random.Generator:
    """The seeded stream noisy signals draw from: the same for every method at a seed."""
    return np.random.default_rng([seed, 20240611])


def run_ours(name: str, problem: Problem, seed: int, budgets: Sequence[int]) -> RunResult:
    """A hypsearch algorithm; its named best is `recommend()`."""
    from hypsearch.search import algorithm
    algo = algorithm(name, problem.decisions, seed=seed)
    rng = signal_stream(seed)
    named, seen, cpu = [], [], 0.0
    for i in range(max(budgets)):
        c0 = time.process_time()
        p = algo.propose()
        cpu += time.process_time() - c0
        key = problem.key(problem.to_values(p.assignment))
        value = problem.signal(key, rng)
        c0 = time.process_time()
        algo.tell(p, value)
        cpu += time.process_time() - c0
        seen.append(key)
        if i + 1 in budgets:
            c0 = time.process_time()
            rec = algo.recommend()
            cpu += time.process_time() - c0
            named.append(problem.key(problem.to_values(rec.assignment)))
    return named, seen, cpu


def run_tpe(problem: Problem, seed: int, budgets: Sequence[int]) -> RunResult:
    """Optuna's default TPESampler; its named best is the best value it saw."""
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    rng = signal_stream(seed)
    named, seen, cpu = [], [], 0.0
    best_key, best_value = None, -np.inf
    for i in range(max(budgets)):
        c0 = time.process_time()
        t = study.ask()
        values = {p[0]: (t.suggest_categorical(p[0], list(p[2])) if p[1] == "cat" else t.suggest_int(p[0], p[2], p[3]))
                  for p in problem.params}
        cpu += time.process_time() - c0
        key = problem.key(values)
        value = problem.signal(key, rng)
        c0 = time.process_time()
        study.tell(t, value)
        cpu += time.process_time() - c0
        seen.append(key)
        if value > best_value:
            best_key, best_value = key, value
        if i + 1 in budgets:
            named.append(best_key)
    return named, seen, cpu


def run_smac(problem: Problem, seed: int, budgets: Sequence[int]) -> RunResult:
    """SMAC3's HyperparameterOptimizationFacade through ask/tell; its named best is its incumbent."""
    import logging

    from ConfigSpace import Categorical, ConfigurationSpace, Integer
    from smac import HyperparameterOptimizationFacade, Scenario
    from smac.runhistory.dataclasses import TrialValue
    logging.getLogger("smac").setLevel(logging.ERROR)

    cs = ConfigurationSpace(seed=seed)
    for p in problem.params:
        cs.add(Categorical(p[0], list(p[2])) if p[1] == "cat" else Integer(p[0], (p[2], p[3])))
    rng = signal_stream(seed)
    named, seen, cpu = [], [], 0.0
    with tempfile.TemporaryDirectory() as out:
        scenario = Scenario(cs, deterministic=not problem.noisy, n_trials=max(budgets) + 10, seed=seed,
                            output_directory=out)
        smac = HyperparameterOptimizationFacade(scenario, lambda config, seed=0: 0.0, overwrite=True,
                                                logging_level=40)
        for i in range(max(budgets)):
            c0 = time.process_time()
            info = smac.ask()
            cpu += time.process_time() - c0
            key = problem.key(dict(info.config))
            value = problem.signal(key, rng)
            c0 = time.process_time()
            smac.tell(info, TrialValue(cost=-value))
            cpu += time.process_time() - c0
            seen.append(key)
            if i + 1 in budgets:
                inc = smac.intensifier.get_incumbent()
                named.append(problem.key(dict(inc)) if inc is not None else key)
    return named, seen, cpu


def hebo_available() -> Optional[str]:
    """None when the HEBO side environment works, else why not."""
    if not os.path.exists(HEBO_PYTHON):
        return f"no HEBO environment at {HEBO_PYTHON} (set HYPSEARCH_HEBO_PYTHON)"
    probe = subprocess.run([HEBO_PYTHON, "-c", "import hebo"], capture_output=True, text=True)
    return None if probe.returncode == 0 else f"HEBO does not import in {HEBO_PYTHON}: {probe.stderr.strip()[-200:]}"


def run_hebo(problem: Problem, seed: int, budgets: Sequence[int]) -> RunResult:
    """HEBO in its own environment (`hebo_driver.py`, one JSON line per message); its named best
    is the best value it saw. The cost is the driver's own CPU time."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.Popen([HEBO_PYTHON, os.path.join(HERE, "hebo_driver.py")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)

    def ask(message: dict) -> dict:
        proc.stdin.write(json.dumps(message) + "\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the HEBO driver ended unexpectedly")
        return json.loads(line)

    rng = signal_stream(seed)
    named, seen = [], []
    best_key, best_value = None, -np.inf
    try:
        ask({"cmd": "init", "params": [list(p) for p in problem.params], "seed": seed})
        for i in range(max(budgets)):
            values = ask({"cmd": "suggest"})["x"]
            key = problem.key(values)
            value = problem.signal(key, rng)
            ask({"cmd": "observe", "y": value})
            seen.append(key)
            if value > best_value:
                best_key, best_value = key, value
            if i + 1 in budgets:
                named.append(best_key)
        cpu = float(ask({"cmd": "cpu"})["cpu"])
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    return named, seen, cpu


PEERS = {"optuna-tpe": run_tpe, "smac": run_smac, "hebo": run_hebo}


def main_check() -> None:
    """`python search_peers.py`: say which peers can run here."""
    for name, module in (("optuna-tpe", "optuna"), ("smac", "smac")):
        try:
            __import__(module)
            print(f"{name}: ok")
        except ImportError as e:
            print(f"{name}: missing ({e})")
    print(f"hebo: {hebo_available() or 'ok'}")


if __name__ == "__main__":
    sys.exit(main_check())
