"""The one exception convbench raises for bad input."""


class ConvError(ValueError):
    """Bad input to a convolution: the message names the argument, the value
    that was given and the value that was expected."""
