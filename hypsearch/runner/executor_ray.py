"""The Ray executor: one Ray Tune trial per proposed program, on a fresh local Ray instance or an
existing cluster (`--address`).

The only module that imports Ray. Local default: `ray.init(address="local")` (never a cluster it
happens to find), no dashboard unless asked, Ray's token authentication left as Ray sets it, shut
down at the end. Actors are reused between trials and Tune's console output is silenced, which
brings the per-trial overhead from about a second to tens of milliseconds.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
import socket
from typing import Any, Dict, List, Optional

from hypsearch.search.trial import Status, Trial

from hypsearch.dsl.errors import HypError

from .coordinator import Coordinator, epochs_of
from .settings import RunSettings

# Set before Ray is imported: quiet Tune (our own progress line replaces its tables) and no
# per-result metric checks (failed trials report no objective).
_ENV = {
    "TUNE_DISABLE_STRICT_METRIC_CHECKING": "1",
    "RAY_AIR_NEW_OUTPUT": "0",
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
    "RAY_DEDUP_LOGS": "1",
    "TUNE_MAX_PENDING_TRIALS_PG": "16",
    "RAY_TRAIN_V2_ENABLED": "0",
}


_SANDBOX: list = []  # per Ray worker process: the sandbox of trials with a timeout, reused


def _exit_quietly(message: str = "", exit_code: int = 1) -> None:
    os._exit(0)


def _quiet_sigterm() -> None:
    """Ray workers answer SIGTERM (sent when Tune retires an actor, and at shutdown) by raising
    SystemExit from the main thread; landing in a finalizer it prints "Exception ignored ...
    SystemExit: 1" tracebacks on the user's terminal and the worker lives on until killed. Being
    stopped is not an error: exit at once, quietly. The trainable runs in a thread, where
    signal.signal is refused, so the function Ray's handler calls is replaced instead."""
    try:
        import ray._private.worker as ray_worker
    except ImportError:  # another Ray layout: keep its behaviour
        return
    if getattr(ray_worker, "raise_sys_exit_with_custom_error_message", None) not in (None, _exit_quietly):
        ray_worker.raise_sys_exit_with_custom_error_message = _exit_quietly


def _trainable(config: Dict[str, Any], timeout: Optional[float] = None) -> None:
    """A Tune function trainable: rebuild the program from its text, train, report every epoch."""
    from ray import tune
    import ray

    from .tune_searcher import OBJECTIVE_KEY
    from .worker import save_weights

    _quiet_sigterm()
    # Ray logs every per-epoch checkpoint at INFO in the worker and forwards it to the user's
    # terminal ("Checkpoint successfully created at ..."): routine, so kept out of the output.
    logging.getLogger("ray.train._internal.storage").setLevel(logging.WARNING)

    from .tune_pbt import EpochCheckpoints, restored_state

    epochs = config.get("hyp_epochs")
    # Each epoch's report carries the trainer's state as a Tune checkpoint; a trial Tune restarts
    # (paused by PBT, or after its worker died) continues from the last one.
    checkpoints = EpochCheckpoints()
    resume = restored_state() if epochs else None
    state = {"count": len(resume["history"]) if resume else 0, "held": None}

    def report(metrics: Dict[str, Any]) -> None:
        # evaluate() puts the objective's value under OBJECTIVE_KEY in every epoch's metrics.
        state["count"] += 1
        row = _numeric(metrics)
        if not epochs or state["count"] >= epochs:
            state["held"] = row  # the last epoch goes out with the final summary, in one report
        else:
            checkpoints.report(row)

    started = time.time()
    gpu_ids = ray.get_gpu_ids()
    device = "cpu"
    if gpu_ids:
        import torch
        if torch.cuda.is_available():
            device = "cuda"
    carrier = Trial(int(config["hyp_id"]), {})
    if timeout:
        # A timeout needs a process that can be killed: the trial runs in a sandbox worker.
        if not _SANDBOX:
            from .sandbox import Sandbox
            _SANDBOX.append(Sandbox())
        sandbox = _SANDBOX[0]
        sandbox.timeout = float(timeout)
        base_dir = os.path.dirname(config["hyp_file"]) if config.get("hyp_file") else None
        outcome = sandbox.run(carrier, config["hyp_program"], config.get("hyp_file"), device=device,
                              base_dir=base_dir, threads=config.get("hyp_threads", 1), report=report)
        if outcome.died:  # as if this Ray worker had died: Tune retries it up to --max-failures
            raise RuntimeError(outcome.trial.error)
        finished, model, fatal = outcome.trial, None, outcome.fatal
        if finished.status is Status.OK and outcome.has_model and config.get("hyp_weights"):
            os.makedirs(config["hyp_weights"], exist_ok=True)
            sandbox.save_model(os.path.join(config["hyp_weights"], f"{config['hyp_id']}.pt"), config["hyp_program"],
                               config.get("hyp_file"))
    else:
        finished, model, fatal = _run_here(carrier, config, report, device, started, checkpoints.stage, resume)
    final = dict(state["held"] or {})
    if finished.status is Status.OK and OBJECTIVE_KEY not in final:
        final[OBJECTIVE_KEY] = finished.value
    if finished.status is Status.OK and model is not None and config.get("hyp_weights"):
        os.makedirs(config["hyp_weights"], exist_ok=True)
        save_weights(os.path.join(config["hyp_weights"], f"{config['hyp_id']}.pt"), model, config["hyp_program"],
                     config.get("hyp_file"))
    # The finished record travels as one JSON string: Tune flattens and filters dict results.
    final.update({"hyp_done": 1, "hyp_trial": json.dumps(finished.to_json()), "hyp_fatal": int(fatal)})
    checkpoints.report(final)


def _run_here(carrier: Trial, config: Dict[str, Any], report, device: str, started: float,
              checkpoint=None, resume: Optional[Dict[str, Any]] = None):
    """Run the trial in this Ray worker process (a crash takes the worker: Tune retries it)."""
    from .worker import rebuild, run_trial

    try:
        program = rebuild(config["hyp_program"], config.get("hyp_file"))
    except Exception as e:  # a program text that does not parse back: invalid, not retried
        finished, model, fatal = dataclasses.replace(carrier, status=Status.INVALID, error=f"{type(e).__name__}: {e}",
                                                     started=started, finished=time.time()), None, False
    else:
        base_dir = os.path.dirname(config["hyp_file"]) if config.get("hyp_file") else None
        finished, model, fatal = run_trial(carrier, program, report=report, device=device, base_dir=base_dir,
                                           threads=config.get("hyp_threads", 1), checkpoint=checkpoint,
                                           resume=resume)
    return finished, model, fatal


def _numeric(metrics: Dict[str, Any]) -> Dict[str, Any]:
    """An epoch's metrics as Tune reports them: numbers, dicts of them, and tables of numbers (the
    accuracy matrix of a regime over tasks: a trial a scheduler stops keeps its last epoch's)."""
    out = {}
    for k, v in metrics.items():
        if isinstance(v, bool):
            out[k] = int(v)
        elif isinstance(v, (int, float)):
            out[k] = v
        elif hasattr(v, "item"):
            out[k] = v.item()
        elif isinstance(v, dict):
            out[k] = _numeric(v)
        elif _table(v):
            out[k] = [[float(x) for x in row] for row in v]
    return out


def _table(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and bool(v) and all(
        isinstance(row, (list, tuple)) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in row)
        for row in v)


def run_ray(coord: Coordinator, settings: RunSettings, experiment_name: str = "tune") -> None:
    """Run the coordinator's trials as Ray Tune trials until it has none left."""
    for k, v in _ENV.items():
        os.environ.setdefault(k, v)
    if settings.address:
        probe_address(settings.address)  # in seconds; ray.init would retry for minutes
        _token_auth_for_cluster()  # before Ray is imported: it reads its auth mode once
    import ray
    from ray import tune

    from .tune_searcher import OBJECTIVE_KEY

    started_here = False
    watchdog = None
    if not ray.is_initialized():
        from .ray_noise import quiet_ray_notices
        quiet_ray_notices()  # Ray's token-authentication notice is not the search's business
        init: Dict[str, Any] = {"log_to_driver": True, "logging_level": "WARNING", "configure_logging": True}
        if settings.address:
            host = settings.address.split("://")[-1].rsplit(":", 1)[0]
            if host in ("127.0.0.1", "localhost", "::1"):
                # A cluster on loopback: without this the driver registers under the machine's
                # outward address and never finds the loopback raylet.
                init["_node_ip_address"] = "127.0.0.1"
            try:
                ray.init(address=settings.address, **init)
            except (ConnectionError, TimeoutError, RuntimeError) as e:  # something answers, but no Ray
                raise HypError(f"--address {settings.address}: could not join a Ray cluster there "
                               f"({str(e).splitlines()[0][:200]})") from None
        else:
            if coord.exp is not None:
                init["_temp_dir"] = session_dir(coord.exp.path)
            ray.init(address="local", include_dashboard=settings.dashboard, **init)
            # The local instance belongs to this run: stopped by a watchdog if this process dies.
            from .watchdog import descendants, guard
            watchdog = guard(descendants(os.getpid()))
        started_here = True
    try:
        remaining = coord.budget_left()
        if remaining <= 0:
            return
        resources = {"cpu": settings.cpus_per_trial, "gpu": settings.gpus_per_trial}
        _check_fits(ray.cluster_resources(), settings)
        max_concurrent = settings.max_concurrent or _fit_concurrency(ray.cluster_resources(), settings)
        scheduler = None
        if settings.scheduler == "asha":
            from ray.tune.schedulers import ASHAScheduler
            scheduler = ASHAScheduler(time_attr="training_iteration", metric=OBJECTIVE_KEY, mode=coord.mode,
                                      max_t=max(coord_max_epochs(coord), 1), grace_period=1, reduction_factor=2)
        storage = settings.storage or coord.exp.ray
        trainable = tune.with_parameters(_trainable, timeout=settings.trial_timeout) if settings.trial_timeout \
            else _trainable
        if settings.pack > 1 or settings.repeats > 1:  # a Tune trial per pack (runner/packed/tune_pack.py)
            import logging
            logging.getLogger("ray.tune").setLevel(logging.CRITICAL)
            from .packed.tune_pack import run_packs
            run_packs(tune, coord, settings, _fit, dict(resources=resources, storage=storage,
                                                        experiment_name=experiment_name, max_concurrent=max_concurrent))
            return
        if settings.scheduler == "pbt":  # one population; PBT takes no searcher (see tune_pbt)
            from .tune_pbt import run_pbt
            run_pbt(tune, coord, settings, resources, storage, experiment_name, max_concurrent,
                    max(coord_max_epochs(coord), 1))
            return
        # A failed trial is journaled with its error and summarised at the end; Tune would also
        # print each one's traceback on the terminal ("Trial task failed for trial ...").
        import logging
        logging.getLogger("ray.tune").setLevel(logging.CRITICAL)
        while remaining > 0 and coord.fatal is None and not coord.exhausted:
            # Tune keeps every trial of a fit and walks them on each step, so one long fit slowed
            # down (36 -> 66 ms a trial over 2,000 trials) and grew: fits of CHUNK trials stay flat.
            _fit(tune, trainable, resources, coord, settings, scheduler, storage, experiment_name,
                 min(remaining, CHUNK), max_concurrent)
            remaining = coord.budget_left()
    finally:
        if started_here:
            _shutdown(ray)
        if watchdog is not None and watchdog.stdin is not None:
            watchdog.stdin.close()  # hands over: it ends what the shutdown left, then exits


CHUNK = 500  # trials per Tune fit


def _fit(tune: Any, trainable: Any, resources: Dict[str, float], coord: Coordinator, settings: RunSettings,
         scheduler: Any, storage: str, experiment_name: str, samples: int, max_concurrent: int,
         searcher: Any = None) -> None:
    from .tune_searcher import HypSearcher, SilentReporter, TrialTracker

    if searcher is None:
        searcher = HypSearcher(coord, {}, threads=max(1, int(settings.cpus_per_trial)))
    trials = searcher.trials
    tuner = tune.Tuner(
        tune.with_resources(trainable, resources),
        tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler, num_samples=samples,
                                    max_concurrent_trials=max_concurrent, reuse_actors=True,
                                    trial_name_creator=_trial_name, trial_dirname_creator=_trial_name),
        run_config=tune.RunConfig(
            name=experiment_name, storage_path=storage if "://" in storage else os.path.abspath(storage),
            verbose=0, progress_reporter=SilentReporter(), log_to_file=False,
            failure_config=tune.FailureConfig(max_failures=settings.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            callbacks=[TrialTracker(coord, trials)],
        ),
    )
    tuner.fit()


def _shutdown(ray: Any) -> None:
    """ray.shutdown(), with the SystemExit tracebacks its workers print while stopping kept off
    the terminal (they end up in Ray's session logs)."""
    import contextlib
    import io
    with contextlib.redirect_stderr(io.StringIO()):
        ray.shutdown()


# Ray puts sockets in its session folder; an AF_UNIX path holds at most 107 bytes and Ray's
# longest is the session folder plus 67 characters (session_<date>_<time>_<pid>/sockets/plasma_store).
_SOCKET_ROOM = 107 - 67


def session_dir(experiment: str) -> str:
    """Where the local Ray instance keeps its session files: DIR/ray-session, or, when that path
    is too long for Ray's sockets, a short folder in the temp directory that DIR/ray-session
    links to (docs/ray.md)."""
    import hashlib
    import tempfile

    link = os.path.join(os.path.abspath(experiment), "ray-session")
    if len(link) <= _SOCKET_ROOM:
        return link
    short = os.path.join(tempfile.gettempdir(), "hypsearch-ray-" + hashlib.sha1(link.encode()).hexdigest()[:10])
    if len(short) > _SOCKET_ROOM:  # an unusually long TMPDIR: Ray's own default, /tmp/ray
        short = "/tmp/ray"
    os.makedirs(short, exist_ok=True)
    try:
        if not os.path.lexists(link):
            os.symlink(short, link)
    except OSError:  # a file system without links: docs/ray.md says where the files are
        pass
    return short


PROBE_TIMEOUT_S = 10.0


def probe_address(address: str) -> None:
    """A HypError within PROBE_TIMEOUT_S when nothing answers at a cluster address (ray.init
    itself retries for minutes)."""
    if address in ("auto", "local"):
        return
    where = address.split("://")[-1]
    host, sep, port = where.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise HypError(f"--address {address}: expected HOST:PORT (or ray://HOST:PORT), e.g. 10.0.0.5:6379")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_TIMEOUT_S):
            pass
    except OSError as e:
        reason = "timed out" if isinstance(e, socket.timeout) else (e.strerror or str(e))
        raise HypError(f"--address {address}: no Ray cluster answers there ({reason}); start one with "
                       f"`ray start --head` or check the address") from None


def _token_auth_for_cluster() -> None:
    """Keep Ray's token authentication on when joining a cluster: Ray itself turns it on only for
    clusters it finds on its own, so with an explicit address and a token on this machine, say so
    (RAY_AUTH_MODE set by the user wins, e.g. `disabled` for a cluster without authentication)."""
    if "RAY_AUTH_MODE" in os.environ:
        return
    token_file = os.environ.get("RAY_AUTH_TOKEN_PATH") or os.path.expanduser("~/.ray/auth_token")
    if os.environ.get("RAY_AUTH_TOKEN") or os.path.exists(token_file):
        os.environ["RAY_AUTH_MODE"] = "token"


def _trial_name(trial: Any) -> str:
    pack = trial.config.get("hyp_pack")
    if pack:  # named by its members' first and last ids
        return f"pack_{pack[0]['id']}-{pack[-1]['id']}_{trial.trial_id}"
    return f"trial_{trial.config.get('hyp_id')}_{trial.trial_id}"


def coord_max_epochs(coord: Coordinator) -> int:
    """The most epochs any program of the space trains for (ASHA's max_t)."""
    for d in getattr(coord.space, "decisions", ()):
        if d.name.endswith("train.epochs") and d.kind == "int":
            return int(d.high)
    try:
        return epochs_of(coord.space.sample(seed=0)) or 1
    except Exception:
        return 100


def _check_fits(resources: Dict[str, float], settings: RunSettings) -> None:
    """A trial that asks for more than the cluster has would wait forever: say so instead."""
    for flag, asked, key in (("--gpus-per-trial", settings.gpus_per_trial, "GPU"),
                             ("--cpus-per-trial", settings.cpus_per_trial, "CPU")):
        have = float(resources.get(key, 0))
        if asked > have:
            where = f"the Ray cluster at {settings.address}" if settings.address else "this machine's Ray instance"
            hint = " (use --executor inline, or --gpus-per-trial 0, on a machine without GPUs)" if key == "GPU" else ""
            raise HypError(f"{flag} {asked:g} asks for more than {where} has: {have:g} {key}{'s' if have != 1 else ''}{hint}")


def _fit_concurrency(resources: Dict[str, float], settings: RunSettings) -> int:
    """As many trials at once as the cluster's CPUs and GPUs hold."""
    limits = []
    if settings.cpus_per_trial > 0:
        limits.append(int(resources.get("CPU", 1) // settings.cpus_per_trial))
    if settings.gpus_per_trial > 0:
        limits.append(int(round(resources.get("GPU", 0) / settings.gpus_per_trial, 6)))
    return max(1, min(limits) if limits else 1)
