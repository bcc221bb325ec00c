"""How bench_regimes' default ensemble recipe was chosen: on data that is not wine, breast_cancer or
iris (a 300-sample draw of digits and two synthetic tables), 5-fold CV, mean balanced accuracy.
Each variant changes the base recipe (BASE) in the keys it names; "mode": "mixture" was a trial of
training every drawn member on the whole batch with the loss of their averaged probabilities
(a change to compile/hypernet/feature_subsets.py that was not kept), so that variant no longer runs.
Run from the repository root: python benchmarks/results/regimes/ens_defaults_selection.py '[{}, {"EPOCHS": 120}]'
"""
import sys, time, json, itertools, numpy as np, torch
sys.path.insert(0, "benchmarks")
import bench_regimes as B
import hypsearch
from sklearn.datasets import load_digits, make_classification
from sklearn.model_selection import StratifiedKFold
from sklearn.metrics import balanced_accuracy_score
torch.set_num_threads(1)

def sets():
    d = load_digits(); rng = np.random.default_rng(0); i = rng.choice(len(d.target), 300, replace=False)
    yield "digits300", d.data[i], d.target[i]
    x, y = make_classification(n_samples=200, n_features=20, n_informative=6, n_redundant=4, n_classes=3, class_sep=1.2, random_state=1)
    yield "synth200x20", x, y
    x, y = make_classification(n_samples=400, n_features=12, n_informative=5, n_redundant=3, n_classes=2, flip_y=0.03, random_state=2)
    yield "synth400x12", x, y

SPACE = """\
data = DATANAME
target = sequential(linear(out = HIDDEN), relu(), linear(out = CLASSES))
hypernet = hypernet(input = feature_subsets(members = MEMBERS, fraction = FRACTION, training = "TRAINING"), body = mlp(hidden = [BODY]), head = full())
train = train(epochs = EPOCHS, batch_size = BATCH, weight_decay = WD, optimizer = adam(lr = LR))
"""
def program(cfg, classes):
    t = SPACE.replace("CLASSES", str(classes)).replace("DATANAME", {10: "digits()", 3: "wine()", 2: "breast_cancer()"}[classes])
    for k, v in cfg.items():
        if k != "mode": t = t.replace(k, str(v))
    return hypsearch.loads(t).sample()

def score(cfg, x, y, folds=5):
    assert cfg["mode"] == "per_sample", "the mixture variant is not in the code any more"
    classes = int(y.max()) + 1
    p = program(cfg, classes); out = []
    for f, (tr, te) in enumerate(StratifiedKFold(folds, shuffle=True, random_state=0).split(x, y)):
        xtr, xte = B._standardise(x[tr], x[te])
        out.append(balanced_accuracy_score(y[te], B._train_ensemble(p, xtr, y[tr], xte, classes, f).argmax(1)))
    return float(np.mean(out))

BASE = dict(mode="per_sample", TRAINING="drawn", HIDDEN=32, MEMBERS=32, FRACTION=0.5, BODY=64, EPOCHS=60, BATCH=32, WD=0.0, LR=0.003)
if __name__ == "__main__":
    variants = json.loads(sys.argv[1])
    data = list(sets())
    for v in variants:
        cfg = dict(BASE, **v); t = time.time()
        r = {n: round(score(cfg, x, y), 4) for n, x, y in data}
        print(json.dumps(v), r, "mean", round(np.mean(list(r.values())), 4), f"{time.time()-t:.0f}s", flush=True)
