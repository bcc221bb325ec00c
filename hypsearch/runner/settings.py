"""The settings of an experiment: the file's `search(...)` block overridden by CLI / Python options.

One dataclass holds everything `hypsearch run` accepts, so the CLI, `hypsearch.run(...)` and
`run.json` (what `--resume` reads back) all speak the same names.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Mapping, Optional

from hypsearch import search
from hypsearch.dsl.errors import HypError, suggest

EXECUTORS = ("ray", "inline")
SCHEDULERS = ("fifo", "asha")


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
    dashboard: bool = False
    progress: bool = False  # live progress line on stderr (the CLI turns it on)

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


def _validate(s: RunSettings) -> None:
    algorithms = search.names()  # the registry: a new algorithm is valid here without edits
    if s.algo not in algorithms:
        raise HypError(f"unknown algorithm `{s.algo}`{suggest(str(s.algo), algorithms)}; valid: {', '.join(algorithms)}")
    if s.executor not in EXECUTORS:
        raise HypError(f"unknown executor `{s.executor}`; valid: {', '.join(EXECUTORS)}")
    if s.scheduler not in SCHEDULERS:
        raise HypError(f"unknown scheduler `{s.scheduler}`; valid: {', '.join(SCHEDULERS)}")
    if s.scheduler == "asha" and s.executor == "inline":
        raise HypError("--scheduler asha needs the ray executor (the inline one runs every trial to the end)")
    if s.dashboard and s.address:
        raise HypError("--dashboard applies to the local Ray that hypsearch starts, not to a cluster given by --address")
    if not isinstance(s.trials, int) or s.trials < 1:
        raise HypError(f"trials must be a positive integer, got {s.trials!r}")
    if s.cpus_per_trial < 0 or s.gpus_per_trial < 0:
        raise HypError("cpus-per-trial and gpus-per-trial must be >= 0")
    if s.gpus_per_trial > 1 and s.gpus_per_trial != int(s.gpus_per_trial):
        raise HypError(f"gpus-per-trial above 1 must be a whole number, got {s.gpus_per_trial}")
    if s.max_concurrent is not None and s.max_concurrent < 1:
        raise HypError(f"max-concurrent must be >= 1, got {s.max_concurrent}")
    if s.max_failures < 0:
        raise HypError(f"max-failures must be >= 0, got {s.max_failures}")
    check_algo_options(s.algo, s.algo_options)


def check_algo_options(algo: str, options: Mapping[str, Any]) -> None:
    """HypError naming the valid options when `options` has one `algo` does not take."""
    valid = search.options(algo)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        listing = ", ".join(f"{k} (default {v[0]!r})" for k, v in sorted(valid.items())) or "none"
        raise HypError(f"algorithm `{algo}` has no option {', '.join(f'`{u}`' for u in unknown)}"
                       f"{suggest(unknown[0], valid)}; valid options: {listing}")


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
