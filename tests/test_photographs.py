"""Real photographs as inputs, and the proposal's claim that natural images keep more of their energy in
the low frequencies: measured on them, judged from the measurements."""
import json

import numpy as np
import pytest

import convbench
from convbench.cli import main
from convbench.workloads import photographs
from convbench.workloads.photographs import KeptRow, low_frequency_verdict, what_band_limiting_keeps

pytest.importorskip("sklearn", reason="the photographs are scikit-learn's (convbench[accuracy])")
SPEC = convbench.ConvSpec(N=2, C=3, H=24, W=20, K=4, R=3, S=3, padding=1)


def test_photographs_are_unit_rms_crops_that_differ_and_repeat_by_seed():
    x = photographs.photographs(np.random.default_rng(3), (2, 3, 24, 20))
    assert x.shape == (2, 3, 24, 20) and x.dtype == np.float32
    np.testing.assert_allclose(x.mean(axis=(-2, -1)), 0, atol=1e-5)
    np.testing.assert_allclose(np.sqrt((x.astype(np.float64) ** 2).mean(axis=(-2, -1))), 1, rtol=1e-5)
    assert not np.allclose(x[0, 0], x[1, 0]) and not np.allclose(x[0, 0], x[0, 1])
    np.testing.assert_array_equal(x, photographs.photographs(np.random.default_rng(3), (2, 3, 24, 20)))
    big = photographs.photographs(np.random.default_rng(0), (1, 1, 500, 700))  # larger than the photographs
    assert big.shape == (1, 1, 500, 700) and np.isfinite(big).all()


def test_photographs_have_a_steeper_spectrum_than_white_noise():
    """A natural image's power falls with frequency: the frequencies below an eighth of the sampling rate
    hold most of it (white noise: their share of the area, under a fifth)."""
    def low_share(x):
        power = np.abs(np.fft.rfft2(x.astype(np.float64))) ** 2
        fy, fx = np.abs(np.fft.fftfreq(x.shape[-2]))[:, None], np.fft.rfftfreq(x.shape[-1])[None, :]
        return power[..., np.hypot(fy, fx) < 0.125].sum() / power.sum()
    rng = np.random.default_rng(0)
    assert low_share(photographs.photographs(rng, (1, 3, 64, 64))) > 0.5 > 0.2 > \
        low_share(photographs.band_limit_input("white noise", rng, (1, 3, 64, 64)))


def test_band_limiting_keeps_more_of_photographs_than_of_white_noise():
    rows = what_band_limiting_keeps(SPEC, [0.0, 0.5, 0.9])
    by = {(row.input, row.compression): row for row in rows}
    for name in photographs.INPUTS:
        assert by[name, 0.0].retained_energy == pytest.approx(1.0) and by[name, 0.0].relative_error < 1e-5
        assert by[name, 0.9].retained_energy < by[name, 0.5].retained_energy < 1
    for rate in (0.5, 0.9):
        assert by["photographs", rate].retained_energy > by["white noise", rate].retained_energy
        assert by["photographs", rate].relative_error < by["white noise", rate].relative_error
    assert low_frequency_verdict(rows).startswith("holds here: at c = 0.5 the photographs keep")


def _row(name, rate, energy, error):
    return KeptRow(name, rate, rate, energy, error)


def test_the_verdict_is_read_from_the_rows():
    planted = [_row("photographs", 0.5, 0.4, 0.8), _row("white noise", 0.5, 0.5, 0.7)]  # photographs keep less
    assert low_frequency_verdict(planted).startswith("does not hold")
    mixed = planted[:1] + [_row("white noise", 0.5, 0.3, 0.9), _row("photographs", 0.9, 0.1, 0.9),
                           _row("white noise", 0.9, 0.2, 0.8)]  # holds at 0.5, not at 0.9
    assert low_frequency_verdict(mixed).startswith("does not hold")
    assert low_frequency_verdict([_row("photographs", 0.0, 1.0, 0.0)]).startswith("cannot be judged")


def test_an_unknown_input_is_refused_by_name():
    with pytest.raises(convbench.ConvError, match="input 'speech': expected one of 'white noise'"):
        photographs.band_limit_input("speech", np.random.default_rng(0), (1, 1, 4, 4))


def test_convbench_spectrum_prints_the_table_and_keeps_it_as_a_record(tmp_path, capsys):
    assert main(["spectrum", "--layer", "L4", "--compressions", "0", "0.5", "--records", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "photographs" in printed and "natural images keep more in the low frequencies:" in printed
    record = json.loads((tmp_path / "low-frequency-energy.json").read_text())
    assert [row[:2] for row in record["rows"]] == [[name, rate] for name in photographs.INPUTS for rate in (0.0, 0.5)]
    assert "Verdict: " in record["what"] and record["machine"]
