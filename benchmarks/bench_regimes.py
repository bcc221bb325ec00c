"""Training regimes and feature-subset ensembles, against their peers.

1. Continual (`--part continual`): on split_digits (5 tasks) and permuted_digits (10 tasks), a random
   search of `--trials` programs per regime (continual with an mlp body, continual with an rnn
   body, finetune, joint), scored by cl_accuracy; the best program of each is retrained with
   `--seeds` seeds and its final average accuracy and forgetting reported (median and range).
   hypnettorch's own task-conditioned hypernetwork (HMLP generating the same MLP, its
   output regulariser `calc_fix_target_reg`) trains on the same splits with the best continual-mlp
   program's width, embedding size, lr, beta and epochs, when hypnettorch imports.
   The data sets have a train and a validation split only: the search and the figures both score
   the validation split (the figures are of the chosen program, retrained with other seeds).
2. Ensembles (`--part ensembles`): wine, breast_cancer and iris, repeated stratified k-fold
   (`--folds` x `--repeats`), balanced accuracy on each outer test fold, inputs standardised with
   training-fold statistics for every model. Columns (`--columns`):
   - `default`: hypsearch's feature_subsets ensemble, ENSEMBLE_DEFAULT (one fixed recipe for all
     three sets, chosen on other data: see docs/regimes.md);
   - `searched`: the best of an `--ens-trials` random search over ENSEMBLE_SEARCH, each outer fold
     its own search (folds `--search-start` to `--search-folds` - 1), scored on an inner
     stratified 25% holdout of the outer training fold only, then retrained on the whole fold;
   - `sklearn`: RandomForest, HistGradientBoosting, LogisticRegression, SVC, MLPClassifier, defaults;
   - `hypertab`: the `hypertab` package's HyperTabClassifier with its defaults, on the first
     `--hypertab-folds` folds, run by `--hypertab-python` (its torchvision does not import beside
     this project's CPU torch, so it runs in an environment of its own with a matching torch and
     torchvision; see benchmarks/results/regimes/README.md).
   Paired differences per fold with a 95% percentile bootstrap interval (folds of repeated CV are
   not independent: the interval is optimistic). `--report A.json B.json` merges runs' columns
   into the tables.

Run from the repository root, e.g. the reduced configuration:
  python benchmarks/bench_regimes.py --part continual --trials 3 --seeds 2 --epochs 3
Prints a table per part and writes JSON with every number (`--out`).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import torch

import hypsearch
from hypsearch.data import DataInfo, Dataset, load_data
from hypsearch.dsl.printer import program_text
from hypsearch.runner.regimes import cl_summary
from hypsearch.runner.train import fit
from hypsearch.runner.trial import evaluate

CONTINUAL_SPACE = """\
data = DATA
target = sequential(linear(out = oneof(64, 128)), relu(), linear(out = 10))
hypernet = hypernet(input = task_embedding(dim = oneof(8, 16, 32)), body = BODY, head = full(),
                    mip = oneof(true, false))
train = train(epochs = EPOCHS, batch_size = 32, optimizer = adam(lr = floatv(3e-4, 3e-3, log = true)),
              regime = REGIME)
objective = maximize("cl_accuracy")
"""

REGIMES = {
    "continual-mlp": ("mlp(hidden = [oneof(32, 64)])", "continual(beta = floatv(0.01, 1.0, log = true))"),
    "continual-rnn": ("rnn(hidden = oneof(32, 64))", "continual(beta = floatv(0.01, 1.0, log = true))"),
    "finetune": ("mlp(hidden = [oneof(32, 64)])", "finetune()"),
    "joint": ("mlp(hidden = [oneof(32, 64)])", "joint()"),
}
SETS = {"split_digits": "split_digits(tasks = 5)", "permuted_digits": "permuted_digits(tasks = 10)"}

# The default recipe: one fixed choice for all three sets, chosen before any outer fold of this
# benchmark was scored, on other data (a 300-sample draw of digits and two synthetic tables, 5-fold
# CV): the variant with the best mean balanced accuracy there (see docs/regimes.md).
# feature_subsets() keeps its own defaults (32 members, fraction 0.5).
ENSEMBLE_DEFAULT = """\
data = DATASET()
target = sequential(linear(out = 32), relu(), linear(out = CLASSES))
hypernet = hypernet(input = feature_subsets(training = "members"), body = mlp(hidden = [64]), head = full())
train = train(epochs = 200, batch_size = 32, optimizer = adam(lr = 0.003))
"""
ENSEMBLE_SEARCH = """\
data = DATASET()
target = sequential(linear(out = oneof(16, 32, 64)), relu(), linear(out = CLASSES))
hypernet = hypernet(input = feature_subsets(members = intv(16, 128), fraction = floatv(0.4, 0.9),
                                            training = oneof("drawn", "members")),
                    body = mlp(hidden = [oneof(32, 64, 128)]), head = full())
train = train(epochs = oneof(60, 120, 200), batch_size = 32, weight_decay = oneof(0.0, 0.0001, 0.001),
              optimizer = adam(lr = floatv(3e-4, 3e-3, log = true)))
"""
TABULAR = {"wine": 3, "breast_cancer": 2, "iris": 3}


# ---- continual ------------------------------------------------------------------------------------

def _with_seed(program: Any, seed: int) -> Any:
    p = program.clone(deep=True)
    p.rebind({"train.seed": seed}, skip_notification=True)
    return p


def continual_part(args) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for set_name in args.sets:
        out[set_name] = {}
        for regime in args.regimes:
            body, reg = REGIMES[regime]
            epochs = args.epochs if set_name == "split_digits" else args.permuted_epochs
            text = (CONTINUAL_SPACE.replace("DATA", SETS[set_name]).replace("BODY", body)
                    .replace("REGIME", reg).replace("EPOCHS", str(epochs)))
            t0 = time.time()
            found = hypsearch.optimize(hypsearch.loads(text), lambda p: evaluate(p).value, algo="random",
                                       trials=args.trials, seed=args.seed, mode="max")
            best = found.program(found.best)
            runs = [evaluate(_with_seed(best, s)).metrics for s in range(args.seeds)]
            out[set_name][regime] = {
                "search_best": found.best.value, "program": program_text(best),
                "cl_accuracy": [r["cl_accuracy"] for r in runs], "forgetting": [r["forgetting"] for r in runs],
                "matrix_seed0": runs[0]["accuracy_matrix"], "seconds": time.time() - t0,
                "choices": _choices(best)}
            _say(f"{set_name} {regime}: search best {found.best.value:.4f}; "
                 f"{_fmt(out[set_name][regime]['cl_accuracy'])} acc, "
                 f"{_fmt(out[set_name][regime]['forgetting'])} forgetting ({time.time() - t0:.0f}s)")
        if args.peer and "continual-mlp" in out[set_name]:
            out[set_name]["hypnettorch"] = hypnettorch_peer(set_name, out[set_name]["continual-mlp"]["choices"], args)
    return out


def _choices(program: Any) -> Dict[str, Any]:
    """What the hypnettorch peer copies from the best continual-mlp program."""
    target = program.target.layers[0].out
    hyper = program.hypernet
    hidden = hyper.body.hidden[0] if hasattr(hyper.body, "hidden") and isinstance(hyper.body.hidden, list) \
        else hyper.body.hidden
    return {"width": int(target), "emb": int(hyper.input.dim), "hnet_hidden": int(hidden),
            "lr": float(program.train.optimizer.lr), "beta": float(getattr(program.train.regime, "beta", 0.0)),
            "epochs": int(program.train.epochs), "mip": bool(hyper.mip)}


def hypnettorch_peer(set_name: str, c: Dict[str, Any], args) -> Dict[str, Any]:
    """hypnettorch's HMLP + MLP with its output regulariser, trained task after task."""
    try:
        import hypnettorch.utils.hnet_regularizer as hreg
        from hypnettorch.hnets import HMLP
        from hypnettorch.mnets import MLP
    except Exception as e:  # not installed (`pip install .[bench]`) or not importable
        _say(f"hypnettorch: not run ({type(e).__name__}: {e})")
        return {"error": str(e)}
    data = load_data(hypsearch.loads(f"data = {SETS[set_name]}").sample().data)
    parts = [data.for_task(t) for t in range(data.tasks)]
    accs_all, forget_all = [], []
    t0 = time.time()
    for seed in range(args.seeds):
        torch.manual_seed(seed)
        mnet = MLP(n_in=64, n_out=10, hidden_layers=(c["width"],), no_weights=True)
        hnet = HMLP(mnet.param_shapes, uncond_in_size=0, cond_in_size=c["emb"], layers=(c["hnet_hidden"],),
                    num_cond_embs=data.tasks)
        hnet.apply_hyperfan_init(mnet=mnet)
        rows: List[List[float]] = []
        gen = torch.Generator().manual_seed(seed)
        for t, part in enumerate(parts):
            x, y, _ = part.tensors("train")
            targets = hreg.get_current_targets(t, hnet) if t > 0 else None
            opt = torch.optim.Adam(hnet.internal_params, lr=c["lr"])
            for _ in range(c["epochs"]):
                order = torch.randperm(len(x), generator=gen)
                for s in range(0, len(x), 32):
                    idx = order[s:s + 32]
                    loss = torch.nn.functional.cross_entropy(mnet.forward(x[idx], weights=hnet(cond_id=t)), y[idx])
                    if t > 0 and c["beta"] > 0:
                        loss = loss + c["beta"] * hreg.calc_fix_target_reg(hnet, t, targets=targets, mnet=mnet)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
            with torch.no_grad():
                row = []
                for j, p in enumerate(parts):
                    xv, yv, _ = p.tensors("val")
                    row.append(float((mnet.forward(xv, weights=hnet(cond_id=j)).argmax(1) == yv).float().mean()))
            rows.append(row)
        cl, forgetting = cl_summary(rows[:-1], rows[-1], data.tasks - 1)
        accs_all.append(cl)
        forget_all.append(forgetting)
    _say(f"{set_name} hypnettorch: {_fmt(accs_all)} acc, {_fmt(forget_all)} forgetting ({time.time() - t0:.0f}s)")
    return {"cl_accuracy": accs_all, "forgetting": forget_all, "config": c}


# ---- ensembles ------------------------------------------------------------------------------------

def _peers() -> Dict[str, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC
    return {"RandomForest": lambda s: RandomForestClassifier(random_state=s),
            "HistGB": lambda s: HistGradientBoostingClassifier(random_state=s),
            "LogReg": lambda s: LogisticRegression(),
            "SVC": lambda s: SVC(),
            "MLP": lambda s: MLPClassifier(random_state=s)}


def _standardise(x_tr: np.ndarray, *others: np.ndarray):
    mean, std = x_tr.mean(0), x_tr.std(0)
    std = np.where(std > 0, std, 1.0)
    return [((a - mean) / std).astype(np.float32) for a in (x_tr,) + others]


def _ensemble_program(space: str, name: str) -> Any:
    return hypsearch.loads(space.replace("DATASET", name).replace("CLASSES", str(TABULAR[name])))


def _train_ensemble(program: Any, x_tr, y_tr, x_te, classes: int, seed: int) -> np.ndarray:
    """Class probabilities of x_te from the program trained on (x_tr, y_tr) by hypsearch's `fit`."""
    program = _with_seed(program, seed)
    # fit scores a validation split every epoch; nothing here reads it, so a few training rows do
    # (never the rows being predicted).
    data = Dataset("fold", x_tr, y_tr, x_tr[:16].copy(), y_tr[:16].copy(), DataInfo((x_tr.shape[1],), classes))
    torch.manual_seed(seed)
    model = hypsearch.build(program, input_shape=(x_tr.shape[1],))
    fit(model, data, program.train)
    model.eval()
    with torch.no_grad():
        return model(torch.tensor(x_te)).exp().numpy()


def _inner_score(y: np.ndarray, proba: np.ndarray) -> float:
    """Balanced accuracy on the inner holdout; its log-loss (x 1e-3) only breaks ties between trials
    (a holdout of 30-110 rows has few distinct balanced accuracies)."""
    from sklearn.metrics import balanced_accuracy_score, log_loss
    return balanced_accuracy_score(y, proba.argmax(1)) - 1e-3 * log_loss(y, proba, labels=range(proba.shape[1]))


def _search_ensemble(name: str, x, y, args, seed: int) -> Any:
    """The best of a random search over ENSEMBLE_SEARCH, scored on an inner stratified holdout of
    the outer training fold (standardised with the inner training rows' statistics)."""
    from sklearn.model_selection import train_test_split
    x_in, x_ho, y_in, y_ho = train_test_split(x, y, test_size=0.25, stratify=y, random_state=seed)
    x_in, x_ho = _standardise(x_in, x_ho)
    classes = TABULAR[name]
    found = hypsearch.optimize(_ensemble_program(ENSEMBLE_SEARCH, name), lambda p: _inner_score(
        y_ho, _train_ensemble(p, x_in, y_in, x_ho, classes, seed)), algo="random", trials=args.ens_trials,
        seed=seed, mode="max")
    return found.program(found.best)


HYPERTAB_WORKER = r"""
import json, sys, numpy as np, torch
import hypertab
from sklearn.metrics import balanced_accuracy_score
torch.set_num_threads(1)
spec = json.load(open(sys.argv[1]))
data = np.load(spec["data"])
x, y = data["x"], data["y"]
out = []
for fold, (tr, te) in enumerate(zip(spec["train"], spec["test"]), start=spec.get("first", 0)):
    tr, te = np.array(tr), np.array(te)
    mean, std = x[tr].mean(0), x[tr].std(0)
    std = np.where(std > 0, std, 1.0)
    np.random.seed(fold)  # hypertab draws its masks from numpy's global generator
    torch.manual_seed(fold)
    model = hypertab.HyperTabClassifier()  # its defaults
    model.fit(((x[tr] - mean) / std).astype(np.float32), y[tr])
    pred = model.predict(((x[te] - mean) / std).astype(np.float32))
    out.append(float(balanced_accuracy_score(y[te], pred)))
    print(json.dumps({"fold": fold, "score": out[-1]}), flush=True)
json.dump({"scores": out, "versions": {"hypertab": getattr(hypertab, "__version__", None),
           "torch": torch.__version__}}, open(spec["out"], "w"))
"""


def hypertab_peer(x: np.ndarray, y: np.ndarray, splits: List[Any], python: str, first: int = 0) -> Dict[str, Any]:
    """HyperTabClassifier (defaults) on the given folds (outer fold numbers `first`, `first` + 1, ...:
    its seeds), run by `python` (an environment where the `hypertab` package and its torchvision
    import); scores in fold order."""
    import os
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(os.path.join(tmp, "d.npz"), x=x, y=y)
        spec = {"data": os.path.join(tmp, "d.npz"), "out": os.path.join(tmp, "out.json"), "first": first,
                "train": [tr.tolist() for tr, _ in splits], "test": [te.tolist() for _, te in splits]}
        with open(os.path.join(tmp, "spec.json"), "w") as f:
            json.dump(spec, f)
        worker = os.path.join(tmp, "worker.py")
        with open(worker, "w") as f:
            f.write(HYPERTAB_WORKER)
        done = subprocess.run([python, worker, os.path.join(tmp, "spec.json")], capture_output=True, text=True)
        if done.returncode != 0:
            return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
        with open(spec["out"]) as f:
            return json.load(f)


def ensembles_part(args, done: Optional[Callable[[Dict[str, Any]], None]] = None) -> Dict[str, Any]:
    """The ensembles' scores per set; `done(out)` after each set (the JSON is written then)."""
    from sklearn.datasets import load_breast_cancer, load_iris, load_wine
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import RepeatedStratifiedKFold
    loaders = {"wine": load_wine, "breast_cancer": load_breast_cancer, "iris": load_iris}
    peers = _peers()
    out: Dict[str, Any] = {}
    for name in args.tabular:
        bunch = loaders[name]()
        x, y = bunch.data.astype(np.float64), bunch.target.astype(np.int64)
        classes = TABULAR[name]
        default = _ensemble_program(ENSEMBLE_DEFAULT, name).sample()
        columns = {c: [] for c in args.columns if c != "hypertab"}
        if "sklearn" in columns:
            del columns["sklearn"]
            columns.update({p: [] for p in peers})
        cv = RepeatedStratifiedKFold(n_splits=args.folds, n_repeats=args.repeats, random_state=0)
        splits = list(cv.split(x, y))
        t0 = time.time()
        searched_programs = []
        for fold, (tr, te) in enumerate(splits):
            before = {k: len(v) for k, v in columns.items()}
            x_tr, x_te = _standardise(x[tr], x[te])
            if "default" in columns:
                columns["default"].append(balanced_accuracy_score(
                    y[te], _train_ensemble(default, x_tr, y[tr], x_te, classes, fold).argmax(1)))
            if "searched" in columns and args.search_start <= fold < args.search_folds:
                best = _search_ensemble(name, x[tr], y[tr], args, fold)
                searched_programs.append(program_text(best))
                columns["searched"].append(balanced_accuracy_score(
                    y[te], _train_ensemble(best, x_tr, y[tr], x_te, classes, fold).argmax(1)))
            for peer, make in peers.items():
                if peer in columns:
                    columns[peer].append(balanced_accuracy_score(y[te], make(fold).fit(x_tr, y[tr]).predict(x_te)))
            scored = {k: v[-1] for k, v in columns.items() if len(v) > before[k]}
            if scored:
                _say(f"{name} fold {fold}: " + ", ".join(f"{k} {v:.4f}" for k, v in scored.items())
                     + f" ({time.time() - t0:.0f}s)")
        entry: Dict[str, Any] = {"scores": columns, "seconds": time.time() - t0,
                                 "first_fold": {"searched": args.search_start, "hypertab": args.hypertab_start}}
        if searched_programs:
            entry["searched_programs"] = searched_programs
        if "hypertab" in args.columns:
            t1 = time.time()
            result = hypertab_peer(x, y, splits[args.hypertab_start:args.hypertab_folds], args.hypertab_python,
                                   args.hypertab_start)
            if "scores" in result:
                columns["hypertab"] = result["scores"]
                entry["hypertab_versions"] = result["versions"]
            else:
                entry["hypertab_error"] = result["error"]
            entry["hypertab_seconds"] = time.time() - t1
        out[name] = entry
        if done is not None:
            done(out)
        _say(f"{name} ({time.time() - t0:.0f}s): " + ", ".join(
            f"{k} {statistics.mean(v):.4f} ({len(v)} folds)" for k, v in columns.items() if v))
    return out


def _paired(a: List[float], b: List[float], draws: int = 10000) -> Dict[str, float]:
    """Mean paired difference a - b over the folds both have, with a 95% percentile bootstrap
    interval (folds resampled with replacement; repeated-CV folds are not independent, so the
    interval is optimistic)."""
    n = min(len(a), len(b))
    d = np.asarray(a[:n]) - np.asarray(b[:n])
    if n < 2:
        return {"mean": float(d.mean()) if n else float("nan"), "lo": float("nan"), "hi": float("nan"), "n": n}
    rng = np.random.default_rng(0)
    boot = d[rng.integers(0, n, size=(draws, n))].mean(axis=1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return {"mean": float(d.mean()), "lo": float(lo), "hi": float(hi), "n": n}


def ensemble_tables(results: List[Dict[str, Any]]) -> str:
    """Markdown tables of the ensembles part, merging the scores of several runs' JSON (a column
    comes from the first run that has it)."""
    merged: Dict[str, Dict[str, List[float]]] = {}
    for r in results:
        for name, entry in r.get("ensembles", {}).items():
            for col, v in entry["scores"].items():
                have = merged.setdefault(name, {})
                if v and col not in have and entry.get("first_fold", {}).get(col, 0) == 0:
                    have[col] = list(v)
                elif v and col in have and entry.get("first_fold", {}).get(col, 0) == len(have[col]):
                    have[col] += v  # a later run continuing this column's folds (--search-start)
    lines = []
    for name, cols in merged.items():
        if not cols:  # only later folds of a column (a --search-start or --hypertab-start run alone)
            continue
        ours = [c for c in ("default", "searched") if c in cols]
        others = [c for c in cols if c not in ours]
        best_peer = max(others, key=lambda c: statistics.mean(cols[c])) if others else None
        lines += [f"### {name}", "",
                  "| model | folds | mean | median | " + " | ".join(
                      f"{o} minus model: mean [95% bootstrap]" for o in ours) + " |",
                  "|---|---|---|---|" + "---|" * len(ours)]
        for c in ours + others:
            cells = []
            for o in ours:
                if c == o:
                    cells.append("")
                else:
                    p = _paired(cols[o], cols[c])
                    cells.append(f"{p['mean']:+.4f} [{p['lo']:+.4f}, {p['hi']:+.4f}] (n={p['n']})")
            mark = " (best peer)" if c == best_peer else ""
            lines.append(f"| {c}{mark} | {len(cols[c])} | {statistics.mean(cols[c]):.4f} | "
                         f"{statistics.median(cols[c]):.4f} | " + " | ".join(cells) + " |")
        common = min(len(v) for v in cols.values())
        if common < max(len(v) for v in cols.values()):
            ranked = sorted(cols, key=lambda c: -statistics.mean(cols[c][:common]))
            lines += ["", f"On the first {common} folds, which every column has: " + ", ".join(
                f"{c} {statistics.mean(cols[c][:common]):.4f}" for c in ranked)]
        lines.append("")
    return "\n".join(lines)


# ---- output ---------------------------------------------------------------------------------------

def _fmt(v: List[float]) -> str:
    return f"median {statistics.median(v):.4f} [{min(v):.4f}, {max(v):.4f}]" if v else "-"


def _say(msg: str) -> None:
    print(msg, flush=True)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=["continual", "ensembles", "all"], default="all")
    ap.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    ap.add_argument("--regimes", nargs="+", default=list(REGIMES), choices=list(REGIMES))
    ap.add_argument("--trials", type=int, default=24, help="search trials per regime and set")
    ap.add_argument("--seeds", type=int, default=5, help="retraining seeds of each best program")
    ap.add_argument("--epochs", type=int, default=10, help="epochs per task on split_digits (joint: epochs)")
    ap.add_argument("--permuted-epochs", type=int, default=5, help="epochs per task on permuted_digits")
    ap.add_argument("--no-peer", dest="peer", action="store_false", help="skip hypnettorch")
    ap.add_argument("--tabular", nargs="+", default=list(TABULAR), choices=list(TABULAR))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--ens-trials", type=int, default=24, help="search trials per outer fold")
    ap.add_argument("--search-folds", type=int, default=25, help="outer folds that get a search (the first N)")
    ap.add_argument("--search-start", type=int, default=0,
                    help="the first outer fold that gets a search (to continue an earlier run's column)")
    ap.add_argument("--columns", nargs="+", default=["default", "searched", "sklearn", "hypertab"],
                    choices=["default", "searched", "sklearn", "hypertab"], help="ensembles part: what to run")
    ap.add_argument("--hypertab-python", default="python",
                    help="a python whose environment imports `hypertab` (its torchvision needs a matching torch)")
    ap.add_argument("--hypertab-folds", type=int, default=25, help="outer folds hypertab runs on (the first N)")
    ap.add_argument("--hypertab-start", type=int, default=0,
                    help="first outer fold hypertab runs on (a later range, to join an earlier run's in --report)")
    ap.add_argument("--report", nargs="+", default=None, metavar="JSON",
                    help="print the ensembles' tables merged from these runs' JSON files, and run nothing")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="JSON file for every number")
    args = ap.parse_args(argv)
    if args.report:
        runs = []
        for path in args.report:
            with open(path) as f:
                runs.append(json.load(f))
        print(ensemble_tables(runs))
        return 0
    torch.set_num_threads(args.threads)
    result: Dict[str, Any] = {"args": vars(args), "torch": torch.__version__}
    if args.part in ("continual", "all"):
        result["continual"] = continual_part(args)
        _write(args.out, result)
    if args.part in ("ensembles", "all"):
        result["ensembles"] = ensembles_part(args, lambda part: _write(args.out, dict(result, ensembles=part)))
        _write(args.out, result)
        print(ensemble_tables([result]))
    return 0


def _write(path: Optional[str], result: Dict[str, Any]) -> None:
    if path:
        with open(path, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
