"""The core: ConvSpec, ConvError, input checks, the cache, thread settings and every tuned threshold.

It imports nothing else of convbench, so the implementations can stand on it.
"""
