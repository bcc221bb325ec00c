"""The hypernetwork: selection of generated tensors, inputs, bodies, heads, MIP and the generator."""
