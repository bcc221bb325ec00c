"""`--log tensorboard` / `--log mlflow[=URI]`: each finished trial written where TensorBoard or
MLflow read it, its per-epoch metrics as a series and its decisions as hyperparameters.

The coordinator calls `trial_finished` on the driver for every recorded trial, so the inline and
the Ray executors write the same files. TensorBoard gets one run folder per trial under
`DIR/tensorboard/` (scalars by epoch plus the HParams plugin's records, so its HPARAMS tab
compares trials); MLflow gets one experiment per hypsearch experiment and one run per trial (the
program text as the artifact `program.hyp`), in `sqlite:///DIR/mlflow.db` unless a URI is given.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

from hypsearch.dsl.errors import HypError
from hypsearch.search.trial import Trial

KINDS = ("tensorboard", "mlflow")


def parse(specs: Sequence[str]) -> List[tuple]:
    """`--log` values as (kind, uri or None); a HypError naming the allowed values otherwise."""
    out = []
    for spec in specs or ():
        kind, sep, uri = str(spec).partition("=")
        kind = kind.strip().lower()
        if kind not in KINDS or (sep and (kind != "mlflow" or not uri.strip())):
            raise HypError(f"--log takes tensorboard or mlflow[=URI], got `{spec}`")
        out.append((kind, uri.strip() or None))
    return out


def _numeric(metrics: Dict[str, Any]) -> Dict[str, float]:
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("epoch",)}


def _hparam(v: Any) -> Any:
    """A decision's value as a hyperparameter: numbers and strings as they are, the rest as JSON."""
    if isinstance(v, (bool, int, float, str)):
        return v
    return json.dumps(v)


def mlflow_key(name: str) -> str:
    """A decision name as an MLflow key (which takes no brackets): `a.layers[1].out` -> `a.layers.1.out`."""
    return re.sub(r"[^\w\-. :/]", ":", re.sub(r"\[(\d+)\]", r".\1", name))


class _Guarded:
    """A logger whose failure is reported once on stderr and turns it off, never ending the run
    (the journal, not the logger, is the run's record)."""

    def __init__(self, inner: Any, what: str):
        self.inner, self.what, self.failed = inner, what, False

    def trial_finished(self, t: Trial) -> None:
        if self.failed:
            return
        try:
            self.inner.trial_finished(t)
        except Exception as e:  # noqa: BLE001 - a full disk or a dropped server must not stop the search
            self.failed = True
            print(f"warning: --log {self.what} stopped after trial {t.id}: {type(e).__name__}: {e}", file=sys.stderr)

    def close(self) -> None:
        self.inner.close()


class TensorBoardLog:
    """Event files under `DIR/tensorboard/trial_<id>/`."""

    def __init__(self, directory: str, decisions: Sequence[Any]):
        try:
            from torch.utils.tensorboard import SummaryWriter  # noqa: F401
        except ImportError:
            raise HypError("--log tensorboard needs the tensorboard package, from the `tensorboard` extra: "
                           "pip install 'hypsearch[tensorboard]'") from None
        self.directory = directory
        self.decisions = list(decisions)

    def trial_finished(self, t: Trial) -> None:
        """Write one trial's scalars and hyperparameters."""
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams

        writer = SummaryWriter(os.path.join(self.directory, f"trial_{t.id:04d}"))
        try:
            for step, m in enumerate(t.metrics):
                for k, v in _numeric(m).items():
                    writer.add_scalar(k, v, global_step=int(m.get("epoch", step + 1)))
            final = {"objective": float(t.value)} if t.value is not None else {}
            hp = {k: _hparam(v) for k, v in t.choices.items()}
            hp["status"] = t.status.value
            experiment, start, end = hparams(hp, final or {"objective": float("nan")})
            for summary in (experiment, start, end):
                writer.file_writer.add_summary(summary)
            if t.value is not None:
                writer.add_scalar("objective", float(t.value), global_step=len(t.metrics))
        finally:
            writer.close()

    def close(self) -> None:
        """Nothing stays open between trials."""


class MlflowLog:
    """One MLflow run per trial in the experiment named after the experiment directory."""

    def __init__(self, uri: Optional[str], exp_dir: str):
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise HypError("--log mlflow needs MLflow, from the `mlflow` extra: pip install 'hypsearch[mlflow]'") from None
        self.uri = uri or f"sqlite:///{os.path.join(exp_dir, 'mlflow.db')}"
        try:
            self.client = MlflowClient(tracking_uri=self.uri)
            name = os.path.basename(os.path.abspath(exp_dir))
            found = self.client.get_experiment_by_name(name)
            if found is not None:
                self.experiment_id = found.experiment_id
            else:
                artifacts = None if uri else "file://" + os.path.join(os.path.abspath(exp_dir), "mlflow-artifacts")
                self.experiment_id = self.client.create_experiment(name, artifact_location=artifacts)
        except HypError:
            raise
        except Exception as e:  # an unreachable server, a bad URI: say which option
            raise HypError(f"--log mlflow={self.uri}: {type(e).__name__}: {e}") from None

    def trial_finished(self, t: Trial) -> None:
        """Log one trial as a finished (or failed) run."""
        from mlflow.entities import Metric, Param, RunTag

        run = self.client.create_run(self.experiment_id, run_name=f"trial {t.id}",
                                     start_time=int((t.started or time.time()) * 1000))
        rid = run.info.run_id
        stamp = int((t.finished or time.time()) * 1000)
        metrics = [Metric(k, v, stamp, int(m.get("epoch", step + 1)))
                   for step, m in enumerate(t.metrics) for k, v in _numeric(m).items()]
        if t.value is not None:
            metrics.append(Metric("objective", float(t.value), stamp, len(t.metrics)))
        params = [Param(mlflow_key(k), str(_hparam(v))[:6000]) for k, v in t.choices.items()]
        tags = [RunTag("hypsearch.status", t.status.value), RunTag("hypsearch.trial", str(t.id))]
        if t.error:
            tags.append(RunTag("hypsearch.error", t.error[:5000]))
        for i in range(0, max(len(metrics), 1), 1000):  # MLflow's batch limit
            self.client.log_batch(rid, metrics=metrics[i:i + 1000], params=params if i == 0 else [],
                                  tags=tags if i == 0 else [])
        if t.program:
            self.client.log_text(rid, t.program, "program.hyp")
        self.client.log_text(rid, json.dumps(t.choices, indent=1), "choices.json")  # the exact decision names
        self.client.set_terminated(rid, "FINISHED" if t.status.value == "ok" else "FAILED", end_time=stamp)

    def close(self) -> None:
        """Nothing stays open between trials."""


def make(specs: Sequence[str], exp_dir: str, space: Any) -> List[Any]:
    """The loggers `--log` asks for (made before the first trial, so a missing extra fails early)."""
    out: List[Any] = []
    for kind, uri in parse(specs):
        if kind == "tensorboard":
            out.append(_Guarded(TensorBoardLog(os.path.join(exp_dir, "tensorboard"), getattr(space, "decisions", ())),
                                "tensorboard"))
        else:
            out.append(_Guarded(MlflowLog(uri, exp_dir), "mlflow" + (f"={uri}" if uri else "")))
    return out
