"""The settings of an experiment: the file's `search(...)` block overridden by CLI / Python options.

One dataclass holds everything `hypsearch run` accepts, so the CLI, `hypsearch.run(...)` and
`run.json` (what `--resume` reads back) all speak the same names.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional

from hypsearch import search
from hypsearch.dsl.errors import HypError, suggest

EXECUTORS = ("ray", "inline")
SCHEDULERS = ("fifo", "asha", "pbt")
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class RunSettings:
    """Everything that decides how an experiment runs (not what it searches)."""

    algo: str = "random"
    trials: int = 20
    seed: Optional[int] = None
    algo_options: Dict[str, Any] = field(default_factory=dict)
    out: Optional[str] = None
    executor: str = "ray"
    address: Optional[str] = None
    storage: Optional[str] = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_concurrent: Optional[int] = None  # None: as many as the resources allow
    scheduler: str = "fifo"
    max_failures: int = 2
    trial_timeout: Optional[float] = None  # seconds; a trial running longer is killed and recorded failed
    dashboard: bool = False
    device: str = "auto"  # the inline executor's device: auto, cpu or cuda (Ray gives trials their GPUs)
    progress: Optional[bool] = None  # progress on stderr: None on a terminal or in a notebook, True always
    log: List[str] = field(default_factory=list)  # "tensorboard", "mlflow" or "mlflow=URI" (runner/loggers.py)
    pack: int = 1  # trials trained together as one population on one device (runner/packed/)
    repeats: int = 1  # seeds each program is trained with (packed); the value is their mean
    enqueue: List[str] = field(default_factory=list)  # concrete .hyp programs run first (warm start)
    warm_start: Optional[str] = None  # an earlier experiment whose finished trials the algorithm is told

    def to_json(self) -> Dict[str, Any]:
        """A JSON-able dict (for run.json)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "RunSettings":
        """Settings read back from run.json (unknown keys ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


# Options of `hypsearch.run(...)` / the CLI that are settings (everything else is an error).
OPTION_NAMES = tuple(f.name for f in dataclasses.fields(RunSettings))
MAX_TRIALS = 10_000_000


def resolve(file_settings: Optional[Mapping[str, Any]], overrides: Mapping[str, Any],
            base: Optional[RunSettings] = None) -> RunSettings:
    """Settings from the file's search block (or `base` on resume) with `overrides` (None: unset)."""
    unknown = sorted(set(overrides) - set(OPTION_NAMES))
    if unknown:
        raise HypError(f"unknown run option(s) {', '.join(unknown)}; valid: {', '.join(OPTION_NAMES)}")
    s = dataclasses.replace(base) if base is not None else RunSettings()
    if base is None and file_settings:
        for key, attr in (("algo", "algo"), ("trials", "trials"), ("seed", "seed"), ("options", "algo_options")):
            if file_settings.get(key) is not None:
                setattr(s, attr, file_settings[key])
        s.algo_options = dict(s.algo_options or {})
        # search(trial_timeout = 60, max_failures = 1): the block's extra arguments that name run
        # settings are settings; the rest are the algorithm's options.
        for key in [k for k in s.algo_options if k in _FILE_SETTINGS]:
            setattr(s, key, s.algo_options.pop(key))
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "algo_options":
            # CLI options add to (and override) the file's options, they do not replace them all.
            s.algo_options = {**s.algo_options, **dict(value)}
        else:
            setattr(s, key, value)
    _validate(s)
    return s


# Run settings a file's search(...) block may set besides algo, trials and seed.
_FILE_SETTINGS = ("trial_timeout", "max_failures", "max_concurrent", "scheduler", "cpus_per_trial", "gpus_per_trial",
                  "pack", "repeats", "enqueue")

# Algorithm options are counts and weights: bounded so a typo cannot make one proposal run for hours.
MAX_INT_OPTION = 10_000
MAX_FLOAT_OPTION = 1e6


def _number(value: Any, name: str, minimum: float, maximum: Optional[float] = None, integer: bool = False,
            allow_min: bool = True) -> None:
    """HypError naming the option and its range unless `value` is a finite number in range."""
    kind = "a whole number" if integer else "a number"
    low = f">= {minimum:g}" if allow_min else f"> {minimum:g}"
    span = low if maximum is None else f"{low} and <= {maximum:g}"
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok and integer:
        ok = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if ok:
        v = float(value)
        ok = math.isfinite(v) and (v >= minimum if allow_min else v > minimum) and (maximum is None or v <= maximum)
    if not ok:
        raise HypError(f"{name} takes {kind} {span}, got {value!r}")


def _validate(s: RunSettings) -> None:
    algorithms = search.names()  # the registry: a new algorithm is valid here without edits
    if s.algo not in algorithms:
        raise HypError(f"unknown algorithm `{s.algo}`{suggest(str(s.algo), algorithms)}; valid: {', '.join(algorithms)}")
    if s.executor not in EXECUTORS:
        raise HypError(f"unknown executor `{s.executor}`; valid: {', '.join(EXECUTORS)}")
    if s.scheduler not in SCHEDULERS:
        raise HypError(f"unknown scheduler `{s.scheduler}`; valid: {', '.join(SCHEDULERS)}")
    if s.scheduler in ("asha", "pbt") and s.executor == "inline":
        raise HypError(f"--scheduler {s.scheduler} needs the ray executor (the inline one runs every trial to the end)")
    if s.device not in DEVICES:
        raise HypError(f"unknown device `{s.device}`; valid: {', '.join(DEVICES)}")
    if s.dashboard and s.address:
        raise HypError("--dashboard applies to the local Ray that hypsearch starts, not to a cluster given by --address")
    _number(s.trials, "--trials", 1, MAX_TRIALS, integer=True)
    if s.seed is not None:
        _number(s.seed, "--seed", 0, 2**63 - 1, integer=True)
    _number(s.cpus_per_trial, "--cpus-per-trial", 0, 4096)
    _number(s.gpus_per_trial, "--gpus-per-trial", 0, 1024)
    if s.gpus_per_trial > 1 and s.gpus_per_trial != int(s.gpus_per_trial):
        raise HypError(f"--gpus-per-trial above 1 must be a whole number, got {s.gpus_per_trial}")
    if s.max_concurrent is not None:
        _number(s.max_concurrent, "--max-concurrent", 1, 100_000, integer=True)
    _number(s.max_failures, "--max-failures", 0, 100, integer=True)
    if s.trial_timeout is not None:
        _number(s.trial_timeout, "--trial-timeout (seconds)", 0, 365 * 86400, allow_min=False)
    _number(s.pack, "--pack", 1, 4096, integer=True)
    _number(s.repeats, "--repeats", 1, 100, integer=True)
    s.pack, s.repeats = int(s.pack), int(s.repeats)
    if (s.pack > 1 or s.repeats > 1) and s.scheduler == "pbt":
        raise HypError("--scheduler pbt exploits and perturbs whole trials between epochs: it does not take "
                       "--pack or --repeats (use --scheduler fifo or asha with them)")
    check_algo_options(s.algo, s.algo_options)
    if isinstance(s.log, str):
        s.log = [s.log]
    from .loggers import parse as parse_log
    parse_log(s.log)


def check_algo_options(algo: str, options: Mapping[str, Any]) -> None:
    """HypError naming the valid options when `options` has one `algo` does not take."""
    valid = search.options(algo)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        listing = ", ".join(f"{k} (default {v[0]!r})" for k, v in sorted(valid.items())) or "none"
        raise HypError(f"algorithm `{algo}` has no option {', '.join(f'`{u}`' for u in unknown)}"
                       f"{suggest(unknown[0], valid)}; valid options: {listing}")
    for key, value in options.items():
        default = valid[key][0]
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            integer = isinstance(default, int)
            _number(value, f"algorithm option `{key}` (default {default!r})", 0,
                    MAX_INT_OPTION if integer else MAX_FLOAT_OPTION, integer=integer)


def parse_algo_options(pairs: Iterable[str]) -> Dict[str, Any]:
    """`key=value` strings as a dict; values are JSON literals when they parse, else strings."""
    out: Dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise HypError(f"--algo-opt takes key=value, got `{pair}`")
        out[key.strip()] = parse_value(raw.strip())
    return out


def parse_value(raw: str) -> Any:
    """A command-line value as int, float, bool, none, JSON list/dict, or string."""
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw
