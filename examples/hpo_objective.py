"""Objective of examples/hpo.hyp: cross-validated accuracy of a gradient-boosted classifier."""

import functools

import hypsearch


@functools.lru_cache(maxsize=1)
def _data():
    from sklearn.datasets import load_breast_cancer
    return load_breast_cancer(return_X_y=True)


@hypsearch.objective
def cv_accuracy(program) -> float:
    """Mean 3-fold accuracy of HistGradientBoostingClassifier with the program's parameters."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import cross_val_score

    p = program.params
    model = HistGradientBoostingClassifier(
        learning_rate=p["learning_rate"], max_leaf_nodes=p["max_leaf_nodes"],
        min_samples_leaf=p["min_samples_leaf"], l2_regularization=p["l2_regularization"],
        max_features=p["max_features"], max_iter=50, random_state=0)
    x, y = _data()
    return float(cross_val_score(model, x, y, cv=3).mean())
