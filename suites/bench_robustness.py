"""Is a more band-limited model more robust to attacks? The proposal's claim, in miniature (full sweep only).

convbench robustness's figures kept in asv's history: the digits CNN trained with band-limited fft
convolutions at each compression (and torch's Conv2d), its test accuracy under foolbox's FGSM and
PGD at each epsilon; the proposal's lossy input channels on each digit's minimal adversarial (FGSM, PGD,
C&W); the noise it bears; each channel's recovery window as the adversarial distortion grows; and how
steep and curved the loss is at natural, adversarial and recovered digits.
Trained and attacked once per class and run (setup_cache, about a minute); the quick subset leaves it out.
"""
from convbench.workloads import accuracy, curvature, noise, recovery_window, robustness

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
    params = [pick(list(robustness.DEFENCES), ["none"]), pick(["clean", *robustness.MINIMAL_ATTACKS], ["clean"])]
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


NOISE_MODELS = ["torch", *(f"fft c={c:g}" for c in accuracy.COMPRESSIONS)]  # noise_accuracy's models, in order


class Noise:
    """convbench noise's experiment: the digits CNN at each compression, and torch's, with Gaussian noise on
    its test digits; the accuracy at each sigma and the sigma that takes it half way to chance, each the mean
    of the training seeds (trained once per run, setup_cache, about half a minute)."""

    version = VERSION
    timeout = 1200
    params = [pick(NOISE_MODELS, NOISE_MODELS[:1]), pick(list(noise.SIGMAS), [0.0])]
    param_names = ["model", "sigma"]

    def setup_cache(self):
        if QUICK:
            return None
        rows, chance = noise.noise_accuracy()
        curves = {model: noise.mean_curve([row for row in rows if row.model == model]) for model in NOISE_MODELS}
        halves = {model: sum(seeds.values()) / len(seeds) for model, seeds in noise.sigmas_half(rows, chance.accuracy).items()}
        return {"curves": curves, "sigma_half": halves}

    def setup(self, *cache_and_params):
        _skip_quick()

    def track_accuracy_under_noise(self, cache, model, sigma):
        return cache["curves"][model][sigma]

    track_accuracy_under_noise.unit = "accuracy"


class NoiseSigmaHalf:
    version = VERSION
    timeout = 1200
    params = [pick(NOISE_MODELS, NOISE_MODELS[:1])]
    param_names = ["model"]
    setup_cache = Noise.setup_cache
    setup = Noise.setup

    def track_sigma_half(self, cache, model):
        return cache["sigma_half"][model]

    track_sigma_half.unit = "sigma"


class RecoveryWindow:
    """convbench recovery-window's experiment: the plain digits CNN's test digits at their minimal adversarial
    scaled up, behind each lossy channel; per channel and distortion, how many of its strengths are in the
    window and the most fooled digits it gives back while keeping clean ones (trained and attacked once per
    run, setup_cache, about half a minute)."""

    version = VERSION
    timeout = 1200
    params = [pick(list(recovery_window.CHANNELS), ["Gaussian noise"]), pick(list(recovery_window.DISTORTIONS), [1.0])]
    param_names = ["channel", "distortion"]

    def setup_cache(self):
        if QUICK:
            return None
        rows = recovery_window.recovery()
        return {(channel, distortion): (len(recovery_window.window(rows, channel, distortion)),
                                        recovery_window.best_recovery(rows, channel, distortion))
                for channel in recovery_window.CHANNELS for distortion in recovery_window.DISTORTIONS}

    def setup(self, *cache_and_params):
        _skip_quick()

    def track_window_size(self, cache, channel, distortion):
        return cache[(channel, distortion)][0]

    track_window_size.unit = "strengths"

    def track_best_recovery(self, cache, channel, distortion):
        return cache[(channel, distortion)][1]

    track_best_recovery.unit = "fraction"


class Curvature:
    """convbench curvature's experiment: the digits CNN at each compression and torch's; the median input
    gradient norm and top Hessian eigenvalue of the loss over natural, adversarial and recovered test digits
    (trained, attacked and power-iterated once per run, setup_cache, about a minute)."""

    version = VERSION
    timeout = 1200
    params = [pick(MODELS, MODELS[:1]), pick(list(curvature.KINDS), ["natural"])]
    param_names = ["model", "input"]

    def setup_cache(self):
        if QUICK:
            return None
        return curvature.medians(curvature.curvature())

    def setup(self, cache, *params):
        _skip_quick()
        if (params[0], params[1]) not in cache:
            raise NotImplementedError(f"{params[0]}: no {params[1]} digits in this run")

    def track_median_gradient_norm(self, cache, model, kind):
        return cache[(model, kind)][0]

    track_median_gradient_norm.unit = "L2 norm"

    def track_median_top_eigenvalue(self, cache, model, kind):
        return cache[(model, kind)][1]

    track_median_top_eigenvalue.unit = "eigenvalue"
