"""Is a more band-limited model more robust to attacks? The proposal's claim, in miniature (full sweep only).

convbench robustness's figures kept in asv's history: the digits CNN trained with band-limited fft
convolutions at each compression (and torch's Conv2d), its test accuracy under foolbox's FGSM and
PGD at each epsilon; and the proposal's lossy input channels on each digit's minimal adversarial.
Trained and attacked once per run (setup_cache, about a minute); the quick subset leaves it out.
"""
from convbench.workloads import robustness

from .common import QUICK, VERSION, pick

MODELS = ["torch", *(f"fft c={c:g}" for c in robustness.COMPRESSIONS)]


def _skip_quick():
    if QUICK:
        raise NotImplementedError("full sweep only: trains five CNNs and attacks them (about a minute)")


class Robustness:
    version = VERSION
    timeout = 1200
    # the quick subset keeps one (n/a) case: forking for every n/a case cost asv
    # (results/records/implementation-choices.json, row suite-robustness-quick-case)
    params = [pick(MODELS, MODELS[:1]), pick(list(robustness.ATTACKS), ["FGSM"]), pick(list(robustness.EPSILONS), [0.0])]
    param_names = ["model", "attack", "epsilon"]

    def setup_cache(self):
        if QUICK:
            return None
        models, _ = robustness.robustness()
        return {(row.model, row.attack, row.epsilon): row.accuracy for row in models}

    def setup(self, cache, *params):
        _skip_quick()

    def track_accuracy_under_attack(self, cache, model, attack, epsilon):
        return cache[(model, attack, epsilon)]

    track_accuracy_under_attack.unit = "accuracy"


class Defences:
    version = VERSION
    timeout = 1200
    params = [pick(list(robustness.DEFENCES), ["none"]), pick(["clean", *robustness.ATTACKS], ["clean"])]
    param_names = ["defence", "attack"]

    def setup_cache(self):
        if QUICK:
            return None
        _, defences = robustness.robustness(compressions=())
        return {(row.model, row.attack): row.accuracy for row in defences}

    def setup(self, cache, *params):
        _skip_quick()

    def track_accuracy(self, cache, defence, attack):
        return cache[(defence, attack)]

    track_accuracy.unit = "accuracy"
