"""Planning: a recipe (and its upstream recipes) expanded into an ordered, fingerprinted Plan."""
