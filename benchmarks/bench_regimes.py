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
   (`--folds` x `--repeats`), balanced accuracy on each outer test fold: hypsearch's
   feature_subsets ensemble with its defaults, the best of a `--ens-trials` random search scored on
   an inner stratified holdout of the outer training fold only (searched on the first
   `--search-folds` outer folds, each fold's own search), and scikit-learn's RandomForest,
   HistGradientBoosting, LogisticRegression, SVC and MLPClassifier with default settings (inputs
   standardised with training-fold statistics for all). Paired differences per fold with a 95%
   t-interval (folds of repeated CV are not independent: the interval is optimistic).
   The `hypertab` package is not run: it imports torchvision, which does not import beside this
   project's torch.

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
from typing import Any, Dict, List, Optional

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

ENSEMBLE = """\
data = DATASET()
target = sequential(linear(out = HIDDEN), relu(), linear(out = CLASSES))
hypernet = hypernet(input = INPUT, body = mlp(hidden = [64]), head = full())
train = train(epochs = EPOCHS, batch_size = 32, optimizer = adam(lr = LR))
"""
ENSEMBLE_DEFAULT = {"INPUT": "feature_subsets()", "HIDDEN": "32", "EPOCHS": "60", "LR": "0.003"}
ENSEMBLE_SEARCH = """\
data = DATASET()
target = sequential(linear(out = oneof(16, 32, 64)), relu(), linear(out = CLASSES))
hypernet = hypernet(input = feature_subsets(members = intv(8, 128), fraction = floatv(0.3, 0.9)),
                    body = mlp(hidden = [oneof(32, 64, 128)]), head = full())
train = train(epochs = oneof(30, 60, 100), batch_size = 32, optimizer = adam(lr = floatv(1e-3, 1e-2, log = true)))
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


def _train_ensemble(program: Any, x_tr, y_tr, x_te, classes: int, seed: int) -> np.ndarray:
    """Predicted classes of x_te from the program trained on (x_tr, y_tr)."""
    program = _with_seed(program, seed)
    data = Dataset("fold", x_tr, y_tr, x_tr.copy(), y_tr.copy(), DataInfo((x_tr.shape[1],), classes))
    torch.manual_seed(seed)
    model = hypsearch.build(program, input_shape=(x_tr.shape[1],))
    fit(model, data, program.train)
    model.eval()
    with torch.no_grad():
        return model(torch.tensor(x_te)).argmax(1).numpy()


def _search_ensemble(name: str, x, y, classes: int, args, seed: int) -> Any:
    """The best of a random search, scored by balanced accuracy on an inner stratified holdout."""
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import train_test_split
    x_in, x_ho, y_in, y_ho = train_test_split(x, y, test_size=0.25, stratify=y, random_state=seed)
    x_in, x_ho = _standardise(x_in, x_ho)
    space = hypsearch.loads(ENSEMBLE_SEARCH.replace("DATASET", name).replace("CLASSES", str(classes)))
    found = hypsearch.optimize(space, lambda p: balanced_accuracy_score(
        y_ho, _train_ensemble(p, x_in, y_in, x_ho, classes, seed)), algo="random", trials=args.ens_trials,
        seed=seed, mode="max")
    return found.program(found.best)


def ensembles_part(args) -> Dict[str, Any]:
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
        default = hypsearch.loads(ENSEMBLE.replace("DATASET", name).replace("CLASSES", str(classes)).replace("INPUT", ENSEMBLE_DEFAULT["INPUT"])
                                  .replace("HIDDEN", ENSEMBLE_DEFAULT["HIDDEN"]).replace("EPOCHS", ENSEMBLE_DEFAULT["EPOCHS"])
                                  .replace("LR", ENSEMBLE_DEFAULT["LR"])).sample()
        scores: Dict[str, List[float]] = {k: [] for k in ["hypsearch-default", "hypsearch-searched", *peers]}
        cv = RepeatedStratifiedKFold(n_splits=args.folds, n_repeats=args.repeats, random_state=0)
        t0 = time.time()
        for fold, (tr, te) in enumerate(cv.split(x, y)):
            x_tr, x_te = _standardise(x[tr], x[te])
            scores["hypsearch-default"].append(balanced_accuracy_score(
                y[te], _train_ensemble(default, x_tr, y[tr], x_te, classes, fold)))
            if fold < args.search_folds:
                best = _search_ensemble(name, x[tr], y[tr], classes, args, fold)
                scores["hypsearch-searched"].append(balanced_accuracy_score(
                    y[te], _train_ensemble(best, x_tr, y[tr], x_te, classes, fold)))
            for peer, make in peers.items():
                scores[peer].append(balanced_accuracy_score(y[te], make(fold).fit(x_tr, y[tr]).predict(x_te)))
        out[name] = {"scores": scores, "seconds": time.time() - t0,
                     "paired_default_minus_peer": {p: _paired(scores["hypsearch-default"], scores[p]) for p in peers},
                     "paired_searched_minus_peer": {p: _paired(scores["hypsearch-searched"],
                                                               scores[p][:len(scores["hypsearch-searched"])])
                                                    for p in peers if scores["hypsearch-searched"]}}
        _say(f"{name} ({len(scores['hypsearch-default'])} folds, {time.time() - t0:.0f}s): " + ", ".join(
            f"{k} {statistics.mean(v):.4f}" for k, v in scores.items() if v))
    return out


def _paired(a: List[float], b: List[float]) -> Dict[str, float]:
    d = [u - v for u, v in zip(a, b)]
    if len(d) < 2:
        return {"mean": d[0] if d else float("nan"), "lo": float("nan"), "hi": float("nan"), "n": len(d)}
    from scipy import stats
    m, se = statistics.mean(d), statistics.stdev(d) / math.sqrt(len(d))
    h = float(stats.t.ppf(0.975, len(d) - 1)) * se
    return {"mean": m, "lo": m - h, "hi": m + h, "n": len(d)}


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
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="JSON file for every number")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    result: Dict[str, Any] = {"args": vars(args), "torch": torch.__version__}
    if args.part in ("continual", "all"):
        result["continual"] = continual_part(args)
        _write(args.out, result)
    if args.part in ("ensembles", "all"):
        result["ensembles"] = ensembles_part(args)
        _write(args.out, result)
    return 0


def _write(path: Optional[str], result: Dict[str, Any]) -> None:
    if path:
        with open(path, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
