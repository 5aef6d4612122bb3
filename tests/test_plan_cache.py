"""Plans lent one call at a time (convbench.interface.plan_cache): convbench.nn and the one-shot functions
from several threads, one layer reached twice in a model, a loop of one-shot calls planned once, and
torch's parity at the edges (a batch of 0, unbatched input, gradients of gradients)."""
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import convbench
import convbench.nn as cnn
from convbench.interface import registry
from convbench.interface.plan_cache import PLANS, PlanCache


def _race(calls, rounds):
    """Run each zero-argument call `rounds` times in its own thread, all at once; the wrong answers."""
    wrong, start = [0], threading.Barrier(len(calls))

    def run(call):
        start.wait()
        for _ in range(rounds):
            wrong[0] += not call()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return wrong[0]


@pytest.mark.parametrize("label", registry.LABELS)
def test_two_threads_on_one_layer_get_right_answers_with_every_variant(label):
    # the reproduction (2 threads on one layer shape): 141-296 of 300 wrong with every variant before
    gen = torch.Generator().manual_seed(7)
    w = torch.randn(16, 16, 3, 3, generator=gen)
    xs = [torch.randn(2, 16, 24, 24, generator=gen) for _ in range(2)]
    truth = [F.conv2d(x, w, padding=1) for x in xs]
    calls = [lambda i=i: torch.allclose(cnn.functional.conv2d(xs[i], w, padding=1, algorithm=label), truth[i],
                                        atol=1e-3) for i in range(2)]
    assert _race(calls, rounds=40) == 0


def test_two_threads_training_one_layer_get_their_own_gradients():
    gen = torch.Generator().manual_seed(8)
    w = torch.randn(8, 8, 3, 3, generator=gen, dtype=torch.float64)
    xs = [torch.randn(2, 8, 12, 12, generator=gen, dtype=torch.float64) for _ in range(2)]

    def grads(conv, x):
        x, ww = x.clone().requires_grad_(), w.clone().requires_grad_()
        (conv(x, ww, padding=1) ** 2).sum().backward()
        return x.grad, ww.grad

    truth = [grads(F.conv2d, x) for x in xs]

    def step(i):
        got = grads(lambda *a, **k: cnn.functional.conv2d(*a, algorithm="fft", **k), xs[i])
        return all(torch.allclose(g, t, atol=1e-8) for g, t in zip(got, truth[i]))

    assert _race([lambda i=i: step(i) for i in range(2)], rounds=15) == 0


def test_one_layer_reached_twice_in_a_model_gives_torchs_gradients():
    torch.manual_seed(9)
    ours = cnn.Conv2d(6, 6, 3, padding=1, algorithm="winograd F(4x4,3x3)").double()
    theirs = torch.nn.Conv2d(6, 6, 3, padding=1).double()
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 6, 10, 10, dtype=torch.float64)
    for layer in (ours, theirs):  # the same layer twice: both calls' buffers are alive until backward
        (layer(torch.tanh(layer(x))) ** 2).sum().backward()
    assert torch.allclose(ours.weight.grad, theirs.weight.grad, atol=1e-9)
    assert torch.allclose(ours.bias.grad, theirs.bias.grad, atol=1e-9)


def test_one_shot_calls_plan_once_and_are_safe_from_threads(rng):
    x = rng.uniform(-1, 1, (2, 4, 12, 12)).astype(np.float32)
    w = rng.uniform(-1, 1, (4, 4, 3, 3)).astype(np.float32)
    first = convbench.conv2d(x, w, algorithm="fft tile 8", padding=1)
    built = PLANS.built
    again = convbench.conv2d(x, w, algorithm="fft tile 8", padding=1)
    assert PLANS.built == built, "a second call of the same shape planned again"
    np.testing.assert_array_equal(first, again)
    xs = [rng.uniform(-1, 1, (2, 4, 12, 12)).astype(np.float32) for _ in range(2)]
    truth = [convbench.conv2d(x, w, algorithm="torch", padding=1) for x in xs]
    calls = [lambda i=i: np.allclose(convbench.conv2d(xs[i], w, algorithm="fft tile 8", padding=1), truth[i],
                                     atol=1e-4) for i in range(2)]
    assert _race(calls, rounds=30) == 0
    signal = rng.uniform(-1, 1, (1, 2, 4096)).astype(np.float32), rng.uniform(-1, 1, (2, 2, 257)).astype(np.float32)
    convbench.conv1d(*signal, algorithm="fft")
    built = PLANS.built
    convbench.conv1d(*signal, algorithm="fft")
    assert PLANS.built == built


def test_the_cache_is_bounded_and_lends_a_plan_to_one_call_at_a_time():
    cache, made = PlanCache(max_keys=2, max_idle=1), []

    def build():
        made.append(object())
        return made[-1]

    with cache.lend("a", build) as first:
        with cache.lend("a", build) as second:  # "a" is out: a second plan
            assert first is not second
    with cache.lend("a", build) as again:  # one idle plan kept a key
        assert again in (first, second)
    assert cache.built == 2
    for key in ("b", "c"):  # three keys in a cache of two: "a", the least recently used, goes
        with cache.lend(key, build):
            pass
    with cache.lend("a", build):
        pass
    assert cache.built == 5
    with cache.lend(("d", [1]), build):  # an unhashable key: planned afresh, nothing kept
        pass
    assert len(made) == 6 and cache.built == 5


@pytest.mark.parametrize("label, compression", [("direct", 0.0), ("winograd F(4x4,3x3)", 0.0), ("fft", 0.5),
                                                ("fft tile 8", 0.0), ("torch", 0.0)])
def test_gradients_of_gradients_pass_torchs_check(label, compression):
    gen = torch.Generator().manual_seed(10)
    x = torch.randn(2, 3, 7, 6, dtype=torch.float64, generator=gen, requires_grad=True)
    w = torch.randn(4, 3, 3, 3, dtype=torch.float64, generator=gen, requires_grad=True)

    def conv(x, w):
        return cnn.functional.conv2d(x, w, padding=1, algorithm=label, compression=compression)

    assert torch.autograd.gradgradcheck(conv, (x, w))


def test_a_batch_of_none_and_an_unbatched_input_are_answered_as_torch_answers():
    gen = torch.Generator().manual_seed(11)
    w = torch.randn(5, 3, 3, 3, generator=gen, requires_grad=True)
    empty = torch.randn(0, 3, 9, 9, generator=gen, requires_grad=True)
    y = cnn.functional.conv2d(empty, w, padding=1, stride=2, algorithm="direct")
    assert y.shape == F.conv2d(empty, w, padding=1, stride=2).shape == (0, 5, 5, 5)
    y.sum().backward()
    assert torch.equal(w.grad, torch.zeros_like(w)) and empty.grad.shape == empty.shape
    image = torch.randn(3, 9, 9, generator=gen)
    for label in ("direct", "fft", "winograd"):
        got = cnn.functional.conv2d(image, w, padding=1, algorithm=label)
        assert torch.allclose(got, F.conv2d(image, w, padding=1), atol=1e-4)
    signal = torch.randn(3, 50, generator=gen)
    w1 = torch.randn(4, 3, 5, generator=gen)
    assert torch.allclose(cnn.functional.conv1d(signal, w1, algorithm="fft"), F.conv1d(signal, w1), atol=1e-4)
    layer = cnn.Conv2d(3, 5, 3, algorithm="fft")
    assert layer(torch.randn(0, 3, 8, 8)).shape == (0, 5, 6, 6)
