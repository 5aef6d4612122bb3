"""One interface over the implementations: the registry of names, plan() and conv2d(), the float64 oracle,
and algorithm="auto"'s choice."""
