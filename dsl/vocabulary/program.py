"""`Program`: the symbolic value a whole `.hyp` file stands for."""


from typing import Annotated, Any, Dict, List, Optional, Union

import pyglove as pg

from ..registry import Component

RESERVED_FIELDS = ("target", "hypernet", "data", "augment", "train", "objective", "search", "constraints")


class Program(pg.Object):
    """A concrete (decision-free) or symbolic program: the reserved fields plus user parameters."""

    target: Annotated[Optional[Component], "the target network"] = None
    hypernet: Annotated[Optional[Component], "the hypernetwork generating target weights"] = None
    data: Annotated[Optional[Component], "the data set"] = None
    augment: Annotated[Optional[List[Component]],
                       "augmentations of training batches, applied in order (optional(...) items are searched)"] = None
    train: Annotated[Optional[Component], "the training recipe"] = None
    objective: Annotated[Optional[Union[Component, List[Component]]],
                         "what the search optimises (a list: several objectives)"] = None
    search: Annotated[Optional[Component], "default search settings"] = None
    constraints: Annotated[Optional[List[Component]], "bounds every trial must meet (at_most, at_least)"] = None
    params: Annotated[Dict[str, Any], "user parameters (other top-level fields)"] = {}
    imports: Annotated[List[str], "imported Python files (absolute) and modules"] = []
    # Loaded programs hold absolute paths and leave this none (so a program equals itself printed
    # and loaded elsewhere); a program built by hand in Python may set it to resolve relative paths.
    source: Annotated[Optional[str], "the folder's .hyp file that relative paths resolve against"] = None

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: a user field (`lr = floatv(...)`) reads as
        # `program.lr`, as Optuna's and pyglove's users expect. Private and dunder names (pyglove's
        # and copy's probes) keep raising AttributeError.
        if not name.startswith("_"):
            try:
                params = object.__getattribute__(self, "sym_init_args")["params"]
            except (AttributeError, KeyError, TypeError):
                params = None
            if params is not None and name in params:
                return params[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __getitem__(self, name: str) -> Any:
        """A reserved field or a user field by name: `program["lr"]`, `program["target"]`."""
        if name in RESERVED_FIELDS:
            return self.sym_getattr(name)
        if name in self.params:
            return self.params[name]
        raise KeyError(f"the program has no field `{name}`; user fields: {', '.join(self.params) or 'none'}")
