"""Packed trials: many trials of one parameter structure trained as one batched program on one device.

`population` trains a group (one forward, one backward, one vectorised update for all members);
`layout` is the population form of a built model; `optim` the per-member optimizers over one
flat buffer; `grouping` decides which programs can share a population and how large one may be;
`loop` is the search loop that asks the coordinator for several proposals at a time (`--pack K`)
and evaluates programs with several seeds (`--repeats R`).
"""
