"""What does a training step cost, pass by pass, and what does band-limiting buy there?

Columns as DeepBench reports them: time_forward, time_backward_data (its
backward_inputs), time_backward_filter (backward_params) and time_step (all
three, as a training step runs them), plus the measured workspace and peak
RSS of a step. Every variant on ResNet-18's 3x3 layers and the 7x7/11x11
N=8 C=K=64 layers; fft over the compression rates. CPU only: the cuda passes
are timed against cuDNN's in bench_speed_targets.GpuRatios. `Digits` tracks `convbench accuracy`'s test
accuracies, times per epoch and memory, and `LearningOrder` the training step at which each frequency band of
its filters settled (`convbench learning-order`; the full sweep only).
"""
from convbench.workloads import accuracy, learning_order
from convbench.workloads.layers import layer
from convbench.measure.timing import workspace_bytes
from convbench.workloads.random_inputs import random_problem
from convbench.measure.targets import VALID, gradient_of_output
from convbench.workloads.training import TrainingStep, pass_call

from .common import ALGORITHMS, VERSION, _Timed, logs_placement, make_plan, pick, placement_before_warm_up

SHAPES = {"resnet18-conv2": layer("resnet18-conv2").spec, "resnet18-conv4": layer("resnet18-conv4").spec,
          "7x7 N=8 C=K=64 56x56": VALID[7], "11x11 N=8 C=K=64 56x56": VALID[11]}
RATES = pick([0.0, 0.25, 0.5, 0.75, 0.9], [0.0, 0.5])


class _Training(_Timed):
    timeout = 600  # a step of the slowest variants on the 11x11 layer, every repeat

    def case(self, *params):
        raise NotImplementedError

    def setup(self, *params):
        spec, algorithm, compression = self.case(*params)
        self.build = lambda: make_plan(spec, algorithm, "cpu", compression)
        self.plan = self.build()
        if not self.plan.training_passes:
            raise NotImplementedError(f"{algorithm} computes the forward pass only")
        self.x, self.w = random_problem(spec)
        self.dy = gradient_of_output(spec)
        self.calls = {name: pass_call(self.plan, name, self.x, self.w, self.dy)
                      for name in ("forward", "backward_data", "backward_filter", "step")}
        placement_before_warm_up(self)
        self.calls["step"]()  # warm-up: compiled kernels, lazy plans of the backward passes

    @logs_placement
    def time_forward(self, *params):
        self.calls["forward"]()

    @logs_placement
    def time_backward_data(self, *params):
        self.calls["backward_data"]()

    @logs_placement
    def time_backward_filter(self, *params):
        self.calls["backward_filter"]()

    @logs_placement
    def time_step(self, *params):
        self.calls["step"]()

    def peakmem_step(self, *params):
        self.calls["step"]()

    def track_workspace(self, *params):
        """Measured bytes of a step: what its plans hold plus the peak RSS rise of one step."""
        return workspace_bytes(lambda: TrainingStep(self.build(), self.dy), self.x, self.w)

    track_workspace.unit = "bytes"


class TrainingPasses(_Training):
    params = [pick(list(SHAPES), ["resnet18-conv4"]), ALGORITHMS]
    param_names = ["layer", "algorithm"]

    def case(self, name, algorithm):
        return SHAPES[name], algorithm, 0.0


class TrainingCompression(_Training):
    params = [pick(["7x7 N=8 C=K=64 56x56", "11x11 N=8 C=K=64 56x56", "resnet18-conv2"], ["7x7 N=8 C=K=64 56x56"]),
              RATES]
    param_names = ["layer", "compression"]

    def case(self, name, compression):
        return SHAPES[name], "fft", compression


DIGITS_MODELS = ["torch", *(f"fft c={c:g}" for c in accuracy.COMPRESSIONS)]  # accuracy_table's rows, in order


class Digits:
    """convbench accuracy's experiment: the 2-conv CNN on the digits at each compression, and torch's; its
    test accuracy, measured time per epoch and the memory its training allocates (the proposal's "accuracy
    vs performance": the report page draws the front). Trained once per run (setup_cache, about a minute)."""

    version = VERSION
    timeout = 1200
    # the quick subset keeps one (n/a) case: forking for every n/a case cost asv
    # (results/records/implementation-choices.json, row suite-robustness-quick-case)
    params = [pick(DIGITS_MODELS, DIGITS_MODELS[:1])]
    param_names = ["model"]

    def setup_cache(self):
        if pick(False, True):
            return None  # asv then passes no cache: setup and the tracks see the model alone
        from convbench.measure.timing import peak_rss_or_none

        rows = accuracy.accuracy_table(peak_memory=peak_rss_or_none)  # torch's, then each of COMPRESSIONS
        return dict(zip(DIGITS_MODELS, rows))

    def setup(self, *cache_and_model):
        if pick(False, True):
            raise NotImplementedError("the digits training runs in the full sweep only")

    def track_test_accuracy(self, cache, model):
        return cache[model].test_accuracy

    track_test_accuracy.unit = "fraction correct"

    def track_seconds_per_epoch(self, cache, model):
        return cache[model].seconds_per_epoch

    track_seconds_per_epoch.unit = "seconds"

    def track_peak_memory_rise(self, cache, model):
        memory = cache[model].peak_memory_bytes
        if memory is None:
            raise NotImplementedError("no peak resident memory counters on this system")
        return memory

    track_peak_memory_rise.unit = "bytes"


# convbench learning-order's default models
ORDER_MODELS = {"torch": None, **{f"fft c={c:g}": c for c in learning_order.COMPRESSIONS}}


class LearningOrder:
    """convbench learning-order's experiment: the digits CNN trained with torch's Conv2d and the fft at each of
    learning_order.COMPRESSIONS, recorded every 5 steps; the step at which each conv layer's frequency band settled (band 0 the
    lowest: the proposal's claim is that it settles first). Trained once per run (setup_cache, seconds)."""

    version = VERSION
    timeout = 600
    params = [pick(list(ORDER_MODELS), ["torch"]), pick(["conv1", "conv2"], ["conv1"]),
              pick(list(range(learning_order.BANDS)), [0])]
    param_names = ["model", "layer", "band"]

    def setup_cache(self):
        if pick(False, True):
            return None  # asv then passes no cache
        histories = {name: learning_order.record_training(compression) for name, compression in ORDER_MODELS.items()}
        return {(name, layer): learning_order.band_order(history, layer)
                for name, history in histories.items() for layer in history.changes}

    def setup(self, *cache_and_params):
        if pick(False, True):
            raise NotImplementedError("the digits training runs in the full sweep only")

    def track_settled_step(self, cache, model, layer, band):
        return int(cache[(model, layer)][band])

    track_settled_step.unit = "training step"
