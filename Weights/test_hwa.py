"""Hardware-aware training noise (hwa.py) against closed forms: `python -m pytest Weights/test_hwa.py -q` (needs torch)."""
import math
import os
import sys

import pytest

torch = pytest.importorskip("torch")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hwa  # noqa: E402

QUIET = dict(variation=0, read_noise=0, stuck_on=0, stuck_off=0, drift_nu_sigma=0)


def test_ideal_chip_realises_the_weights_except_below_half_gmin():
    cfg = hwa.HWAConfig(levels=0, headroom=0.1, **QUIET)
    w = torch.tensor([[1.0, -0.5, 0.004, 0.008, 0.0], [-2.0, 0.01, 0.02, 2.0, 1.0]])
    w_eff, _ = hwa.realised(w, cfg)
    # Row 0: m = 1, u = |w|/1.1, u_min = 0.01: 0.004/1.1 < 0.005 -> no device; 0.008/1.1 in [0.005, 0.01) -> G_min.
    expected0 = torch.tensor([1.0, -0.5, 0.0, 0.011, 0.0])
    assert torch.allclose(w_eff[0], expected0, atol=1e-7)
    # Row 1: m = 2, full = 2.2: 0.01/2.2 = 0.0045 < 0.005 -> 0; 0.02/2.2 = 0.0091 -> G_min -> 0.022.
    expected1 = torch.tensor([-2.0, 0.0, 0.022, 2.0, 1.0])
    assert torch.allclose(w_eff[1], expected1, atol=1e-7)


def test_levels_put_every_weight_on_the_grid():
    cfg = hwa.HWAConfig(levels=5, headroom=0.0, g_min_siemens=0.0, **QUIET)  # levels 0, .25, .5, .75, 1
    w = torch.tensor([[1.0, 0.3, -0.62, 0.1, 0.13]])
    w_eff, _ = hwa.realised(w, cfg)
    assert torch.allclose(w_eff, torch.tensor([[1.0, 0.25, -0.5, 0.0, 0.25]]), atol=1e-7)


def test_variation_has_the_stated_relative_sigma_and_stuck_fractions():
    cfg = hwa.HWAConfig(levels=0, headroom=0.0, variation=0.05, read_noise=0, stuck_on=0.01, stuck_off=0.02, drift_nu_sigma=0)
    w = torch.full((1, 200_000), 0.5)
    w[0, 0] = 1.0  # the column maximum: u = 0.5 elsewhere
    gen = torch.Generator().manual_seed(3)
    w_eff, _ = hwa.realised(w, cfg, generator=gen)
    u = w_eff[0, 1:]
    on = (u == 1.0).float().mean().item()
    off = (u == 0.01).float().mean().item()
    assert abs(on - 0.01) < 5 * math.sqrt(0.01 / 2e5) and abs(off - 0.02) < 5 * math.sqrt(0.02 / 2e5)
    programmable = u[(u != 1.0) & (u != 0.01)]
    rel = programmable / 0.5 - 1
    assert abs(rel.std().item() - 0.05) < 0.001 and abs(rel.mean().item()) < 0.001


def test_a_bias_larger_than_the_column_scale_is_split_over_bias_rows():
    # As ConductanceMapping.map: m = 1, |b|/m = 2.5 -> 3 bias rows of 2.5/3 each; on the 5-level
    # grid (0, .25, .5, .75, 1) each device rounds to 0.75, so the realised bias is 2.25.
    cfg = hwa.HWAConfig(levels=5, headroom=0.0, g_min_siemens=0.0, **QUIET)
    w_eff, b_eff = hwa.realised(torch.tensor([[1.0, 0.5]]), cfg, torch.tensor([2.5]))
    assert torch.allclose(w_eff, torch.tensor([[1.0, 0.5]])) and torch.allclose(b_eff, torch.tensor([2.25]))
    # A column with no weight takes the layer's scale (m = 2): its bias 0.3 is u = 0.15 -> 0.25 -> 0.5.
    _, b_eff = hwa.realised(torch.tensor([[0.0, 0.0], [2.0, 1.0]]), cfg, torch.tensor([0.3, 0.0]))
    assert torch.allclose(b_eff, torch.tensor([0.5, 0.0]))


def test_batchnorm_stages_realise_the_affine_map_and_its_device_spread():
    gamma = torch.tensor([1.5, -0.7, 0.0, 2.0])
    beta = torch.tensor([0.2, -3.1, 0.4, 0.0])
    mean = torch.tensor([3.4, -0.5, 1.0, 0.1])
    var = torch.tensor([0.25, 4.0, 1.0, 0.01])
    x = torch.randn(5, 4, 3, 3, generator=torch.Generator().manual_seed(1))
    k = gamma / torch.sqrt(var + 1e-5)
    clean = k.reshape(1, -1, 1, 1) * (x - mean.reshape(1, -1, 1, 1)) + beta.reshape(1, -1, 1, 1)
    w1, b1, w2, b2 = hwa.realised_batchnorm(mean, var, gamma, beta, 1e-5, hwa.HWAConfig(levels=0, g_min_siemens=0.0, **QUIET))
    chip = w2.reshape(1, -1, 1, 1) * (w1.reshape(1, -1, 1, 1) * x + b1.reshape(1, -1, 1, 1)) + b2.reshape(1, -1, 1, 1)
    assert torch.allclose(chip, clean, atol=1e-5)
    # Two independent devices in series: the gain's relative sigma is sqrt((1 + s^2)^2 - 1) ~ sqrt(2) s.
    n, s = 200_000, 0.02
    cfg = hwa.HWAConfig(levels=0, g_min_siemens=0.0, variation=s, read_noise=0, stuck_on=0.5, stuck_off=0.4,
                        drift_nu_sigma=0)  # stuck faults are not applied to BN stages
    g = torch.full((n,), 1.3)
    w1, _, w2, _ = hwa.realised_batchnorm(torch.zeros(n), torch.ones(n), g, torch.zeros(n), 0.0, cfg,
                                          torch.Generator().manual_seed(5))
    rel = w1 * w2 / 1.3 - 1
    assert abs(rel.std().item() - math.sqrt((1 + s * s) ** 2 - 1)) < 3e-4 and abs(rel.mean().item()) < 3e-4


def test_the_training_hook_and_the_folded_chip_compute_the_same_batchnorm():
    from model import build_model
    quiet = hwa.HWAConfig(levels=0, g_min_siemens=0.0, rail_volts=0.0, **QUIET)
    torch.manual_seed(0)
    m = build_model("mobilenetv3").eval()
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-2, 2)
            mod.running_var.uniform_(0.2, 3)
    x = torch.randn(4, 3, 32, 32)
    reference = m(x)
    folded = build_model("mobilenetv3").eval()
    folded.load_state_dict(m.state_dict())
    assert torch.allclose(hwa.realise_chip(folded, quiet)(x), reference, rtol=1e-4, atol=1e-4)
    # The hook (training mode, batch statistics) with a quiet chip changes nothing; a noisy one does.
    bn = torch.nn.BatchNorm2d(4).train()
    bn.weight.data.uniform_(-2, 2)
    z = torch.randn(4, 4, 5, 5) * 2 + 1
    y_plain = bn(z)
    h = bn.register_forward_hook(hwa._batchnorm_hook(quiet, None))
    assert torch.allclose(bn(z), y_plain, atol=1e-5)
    h.remove()
    bn.register_forward_hook(hwa._batchnorm_hook(hwa.HWAConfig(rail_volts=0.0), torch.Generator().manual_seed(2)))
    assert not torch.allclose(bn(z), y_plain, atol=1e-3)


def test_a_frozen_batchnorm_trains_on_the_chip_the_engine_evaluates():
    import copy
    torch.manual_seed(4)
    bn = torch.nn.BatchNorm2d(6).eval()
    bn.running_mean.uniform_(-3, 3)
    bn.running_var.uniform_(0.1, 4)
    bn.weight.data.uniform_(-2, 2)
    bn.bias.data.uniform_(-1, 1)
    folded = copy.deepcopy(bn)
    clean = copy.deepcopy(bn)
    z = torch.randn(3, 6, 4, 4) * 2
    cfg = hwa.HWAConfig(rail_volts=0.0)
    net = torch.nn.Sequential(bn)
    hwa.attach(net, cfg, torch.Generator().manual_seed(7))
    hwa.set_training(net, cfg, True)
    stats = bn.running_mean.clone()
    y_train = net(z)
    # The same chip, drawn by the PyTorch estimate's fold of the running statistics.
    hwa.realise_chip(folded, cfg, torch.Generator().manual_seed(7))
    assert torch.allclose(y_train, folded(z), atol=1e-5)
    assert not torch.allclose(y_train, clean(z), atol=1e-3)
    assert torch.equal(bn.running_mean, stats)          # frozen: the statistics do not move
    hwa.set_training(net, cfg, False)
    assert torch.equal(net(z), clean(z))                # evaluation and export see the plain BN


def test_training_sees_noise_and_eval_and_export_do_not():
    from model import build_model
    m = build_model("mobilenetv3")
    plain = {k: v.clone() for k, v in m.state_dict().items()}
    hwa.attach(m, hwa.HWAConfig(), torch.Generator().manual_seed(0))
    conv = m.features[0][0]
    m.train()
    assert not torch.equal(conv.weight, plain["features.0.0.weight"])
    m.eval()
    assert torch.equal(conv.weight, plain["features.0.0.weight"])
    assert hwa.plain_state_dict(m).keys() == plain.keys()


def test_rails_are_in_the_engines_activation_units():
    # The engine: volts per unit = --input-voltage / max|input| (0.1 V / 2.126 for CIFAR-10), rails at 1.5 V.
    assert math.isclose(hwa.HWAConfig(rail_volts=1.5, input_volts=0.1, input_max_abs=2.126).rail_units, 31.89, rel_tol=1e-9)
    assert hwa.HWAConfig(rail_volts=0.0).rail_units is None


def test_bad_noise_settings_are_one_clear_error():
    for bad in (dict(variation=-0.1), dict(levels=1), dict(g_min_siemens=2e-4), dict(stuck_on=0.7, stuck_off=0.5),
                dict(input_volts=0.0), dict(input_max_abs=-1.0), dict(read_noise=float("nan"))):
        with pytest.raises(ValueError, match="HWA noise"):
            hwa.HWAConfig(**bad).validate()


def test_init_from_a_missing_file_is_a_clear_error(tmp_path):
    import subprocess
    here = os.path.dirname(os.path.abspath(__file__))
    r = subprocess.run([sys.executable, os.path.join(here, "train.py"), "--init-from", str(tmp_path / "none.h5"),
                        "--epochs", "1", "--limit-train", "8", "--out", str(tmp_path / "x.pt")], capture_output=True, text=True)
    assert r.returncode != 0 and "--init-from" in r.stderr and "Traceback" not in r.stderr
