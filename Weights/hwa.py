"""Hardware-aware training (HWA): XbarSim's device model injected into the forward pass.

During training every Conv2d / Linear weight is replaced, on each forward pass, by the
weight a freshly programmed chip would realise (a new chip per batch), following the
engine's own pipeline (Sources/XbarSim/Crossbar/ConductanceMapping.swift and
Sources/XbarSim/Device/DeviceModel.swift, docs/devices.md). With ``u = G / G_max``:

1. mapping (paper / inverted-output scheme, per-column scaling with headroom ``h``): the
   largest |w| of output column ``o`` maps to ``u = 1/(1+h)``, so ``u = |w| / (m_o (1+h))``
   with ``m_o = max_i |w_oi|``; below ``u_min/2`` there is no device (``u = 0``), between
   ``u_min/2`` and ``u_min`` the device sits at ``u_min``;
2. levels: ``u <- u_min + round((u - u_min)/step) step``, ``step = (1 - u_min)/(L - 1)``;
3. programming variation: ``u <- clip(u (1 + sigma_p z), u_min, 1)`` (gaussian);
4. stuck devices: with probability ``p_on`` at ``u = 1``, ``p_off`` at ``u_min``;
5. drift after ``t`` with global compensation: the common factor cancels, the spread of the
   exponent leaves ``u <- u exp(-sigma_nu z' ln(t/t0))``;
6. read noise ``u <- u (1 + sigma_r z'')`` (drawn once per batch, not per image: the
   per-image draw of the engine averages the same variance over the batch);
7. the realised weight is ``w_eff = sign(w) u m_o (1 + h)``; biases are devices of the same
   column (bias rows driven at one unit) and get the same treatment.

Gradients pass straight through (``w + (w_eff - w).detach()``): the input gradient sees the
noisy weights, the weight gradient is the identity, as in aihwkit's hardware-aware training.
Outputs of every Conv2d, Linear and BatchNorm are clipped at the op-amp rails
(``rail_volts * input_max_abs / input_volts`` units, the engine's volts per unit) as the engine's TIAs and BN stages clip them.

Batch-norm modules (``cfg.batchnorm_stages``, on by default) are realised as the engine's two
one-input stages per channel (``realised_batchnorm``: subtract ``sign(gamma) (x - mean)``, then
scale ``|gamma/sigma|`` and add ``beta``), each a crossbar with its own bias rows, without stuck
faults (the rram preset keeps faults in the weight arrays), on the batch statistics the float
BN uses while training; added straight-through like the weights.

Not modelled in training (the engine still applies them at evaluation): the input DAC, IR
drop, and per-image read noise correlations.

The defaults are the engine's ``--preset rram``.
"""
from __future__ import annotations

import dataclasses
import json
import math

import torch
from torch import nn
from torch.nn.utils import parametrize


@dataclasses.dataclass
class HWAConfig:
    g_min_siemens: float = 1e-6
    g_max_siemens: float = 100e-6
    levels: int = 64                 # 0: continuous
    variation: float = 0.05          # relative sigma of programming
    read_noise: float = 0.02         # relative sigma per read
    stuck_on: float = 0.001
    stuck_off: float = 0.005
    headroom: float = 0.1
    drift_seconds: float = 3600.0
    drift_reference_seconds: float = 20.0
    drift_nu_sigma: float = 0.002
    rail_volts: float = 1.5          # 0: no rails
    input_volts: float = 0.1         # volts of the network input's largest magnitude (--input-voltage)
    input_max_abs: float = 1.0       # that largest magnitude in activation units (train.py: from the data's normalisation)
    scale: float = 1.0               # multiplies every noise sigma (noise-strength knob)
    batchnorm_stages: bool = True    # the BN modules' own devices (two stages per channel, no stuck faults)
    freeze_batchnorm: bool = True    # BN keeps its running statistics while training (as on the chip)

    def validate(self) -> None:
        problems = []
        if not (0 <= self.g_min_siemens < self.g_max_siemens) or not math.isfinite(self.g_max_siemens):
            problems.append(f"window {self.g_min_siemens}..{self.g_max_siemens} S: need 0 <= G_min < G_max")
        if self.levels != 0 and self.levels < 2:
            problems.append(f"levels {self.levels}: 0 (continuous) or >= 2")
        for name in ("variation", "read_noise", "stuck_on", "stuck_off", "headroom", "drift_nu_sigma", "rail_volts", "scale"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                problems.append(f"{name} {v}: must be finite and >= 0")
        if self.stuck_on + self.stuck_off > 1:
            problems.append("stuck_on + stuck_off > 1")
        if not (self.input_volts > 0 and math.isfinite(self.input_volts)):
            problems.append(f"input_volts {self.input_volts}: must be > 0")
        if not (self.input_max_abs > 0 and math.isfinite(self.input_max_abs)):
            problems.append(f"input_max_abs {self.input_max_abs}: must be > 0")
        if not (self.drift_seconds > 0 and self.drift_reference_seconds > 0):
            problems.append("drift times must be > 0")
        if problems:
            raise ValueError("HWA noise: " + "; ".join(problems))

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @property
    def rail_units(self) -> float | None:
        """The rails in activation units: the engine's ``voltsPerUnit`` is ``input_volts / input_max_abs``."""
        return self.rail_volts * self.input_max_abs / self.input_volts if self.rail_volts > 0 else None


def realised(w: torch.Tensor, cfg: HWAConfig, bias: torch.Tensor | None = None,
             generator: torch.Generator | None = None, stuck: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One chip's realised weights (and bias) for ``w`` (outputs first), no gradient.

    As the engine's mapping (``ConductanceMapping.map``, per-column scaling): a column whose
    weights are all zero takes the layer's scale; a bias is split evenly over
    ``n = max(1, ceil(max_o |b_o| / m_o))`` bias rows (shared by every column of the
    crossbar), each a device of its own, and the realised bias is their sum. ``stuck=False``
    leaves the stuck faults out (the rram preset's BN stages, ``--stuck-scope weights``).
    """
    with torch.no_grad():
        out = w.shape[0]
        flat = w.reshape(out, -1)
        m = flat.abs().amax(1, keepdim=True)
        layer = m.max()
        m = torch.where(m > 0, m, layer if layer > 0 else torch.ones_like(m))
        rows = 0
        cols = flat
        if bias is not None:
            b = bias.reshape(out, 1).to(flat.dtype)
            rows = max(1, math.ceil((b.abs() / m).max().item() - 1e-9)) if bool((b != 0).any()) else 1
            cols = torch.cat([flat, (b / rows).expand(out, rows)], 1)
        full = m * (1 + cfg.headroom)
        u = cols.abs() / full
        u_min = cfg.g_min_siemens / cfg.g_max_siemens
        placed = u >= u_min / 2
        u = torch.where(placed, u.clamp(min=u_min, max=1.0), torch.zeros_like(u))
        if cfg.levels:
            step = (1 - u_min) / (cfg.levels - 1)
            u = torch.where(placed, u_min + torch.round((u - u_min) / step) * step, u)

        def normal() -> torch.Tensor:
            return torch.randn(u.shape, generator=generator, dtype=u.dtype)

        if cfg.variation > 0:
            u = torch.where(placed, (u * (1 + cfg.scale * cfg.variation * normal())).clamp(u_min, 1.0), u)
        if stuck and cfg.stuck_on + cfg.stuck_off > 0:
            r = torch.rand(u.shape, generator=generator, dtype=u.dtype)
            p_on, p_off = cfg.scale * cfg.stuck_on, cfg.scale * cfg.stuck_off
            u = torch.where(placed & (r < p_on), torch.ones_like(u), u)
            u = torch.where(placed & (r >= p_on) & (r < p_on + p_off), torch.full_like(u, u_min), u)
        if cfg.drift_nu_sigma > 0:
            spread = cfg.scale * cfg.drift_nu_sigma * math.log(cfg.drift_seconds / cfg.drift_reference_seconds)
            u = u * torch.exp(-spread * normal())
        if cfg.read_noise > 0:
            u = u * (1 + cfg.scale * cfg.read_noise * normal())
        eff = torch.sign(cols) * u * full
        w_eff = eff[:, :flat.shape[1]].reshape(w.shape)
        b_eff = eff[:, flat.shape[1]:].sum(1).reshape(bias.shape).to(bias.dtype) if bias is not None else None
        return w_eff, b_eff


def realised_batchnorm(mean: torch.Tensor, var: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float,
                       cfg: HWAConfig, generator: torch.Generator | None = None,
                       rail: float | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One chip's batch-norm module (``AnalogChip``'s two one-input stages per channel), no gradient.

    Stage 1 (subtract): weight ``s = sign(gamma)``, bias ``-s mean``; stage 2 (scale): weight
    ``|k|``, ``k = gamma / sqrt(var + eps)``, bias ``beta``. Each stage is a crossbar mapped
    and realised like any other (``realised``, per-column scaling, its own bias rows), without
    stuck faults. Returns ``(w1, b1, w2, b2)``; the module computes
    ``y = w2 clip(w1 x + b1) + b2`` (``clip`` at the rails when ``rail`` is given, by the caller).
    """
    with torch.no_grad():
        s = torch.where(gamma >= 0, torch.ones_like(gamma), -torch.ones_like(gamma))
        k = gamma / torch.sqrt(var + eps)
        w1, b1 = realised(s.reshape(-1, 1), cfg, -s * mean, generator, stuck=False)
        w2, b2 = realised(k.abs().reshape(-1, 1), cfg, beta, generator, stuck=False)
        return w1.reshape(-1), b1, w2.reshape(-1), b2


class _Realised(nn.Module):
    """Parametrization: in training mode the weight a fresh chip realises (straight-through)."""

    def __init__(self, cfg: HWAConfig, owner: nn.Module, generator: torch.Generator | None) -> None:
        super().__init__()
        self.cfg = cfg
        self.owner = [owner]  # not a submodule
        self.generator = generator

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return w
        w_eff, _ = realised(w, self.cfg, generator=self.generator)
        return w + (w_eff - w).detach()


class _RealisedBias(nn.Module):
    """Parametrization of a bias: devices of bias rows in the columns of the owner's weights."""

    def __init__(self, cfg: HWAConfig, owner: nn.Module, generator: torch.Generator | None) -> None:
        super().__init__()
        self.cfg = cfg
        self.owner = [owner]  # not a submodule
        self.generator = generator

    def forward(self, b: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return b
        owner = self.owner[0]
        w = owner.parametrizations["weight"].original if parametrize.is_parametrized(owner, "weight") else owner.weight
        # The bias rows share each column's scale m_o (1+h); realise them with that column.
        _, b_eff = realised(w.detach(), self.cfg, b.detach(), self.generator)
        return b + (b_eff - b).detach()


def _noisy(module: nn.Module) -> bool:
    """Whether ``module`` runs as on a chip now: in training mode, or a BN frozen by ``set_training``."""
    return module.training or getattr(module, "hwa_noisy", False)


def set_training(model: nn.Module, cfg: HWAConfig, training: bool = True) -> None:
    """``model.train(training)``; with ``cfg.freeze_batchnorm`` every BatchNorm2d stays in eval mode
    (its running statistics, as the chip's BN stages hold them, neither used from the batch nor
    updated; gamma and beta still learn) and gets the chip's noise while ``training``."""
    model.train(training)
    if cfg.freeze_batchnorm:
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
                m.hwa_noisy = training


def _clip_hook(rail: float):
    def hook(module: nn.Module, inputs, output: torch.Tensor) -> torch.Tensor:
        return output.clamp(-rail, rail) if _noisy(module) else output
    return hook


def _batchnorm_hook(cfg: HWAConfig, generator: torch.Generator | None):
    """While training, the BN module a fresh chip realises (on the statistics the float BN uses:
    the batch's in training mode, the running ones when frozen by ``set_training``), added
    straight-through: ``y + (y_chip - y).detach()``."""
    rail = cfg.rail_units

    def hook(module: nn.BatchNorm2d, inputs, output: torch.Tensor) -> torch.Tensor:
        if not _noisy(module):
            return output
        with torch.no_grad():
            x = inputs[0]
            if module.training:
                mean, var = x.mean((0, 2, 3)), x.var((0, 2, 3), unbiased=False)
            else:
                mean, var = module.running_mean, module.running_var
            w1, b1, w2, b2 = realised_batchnorm(mean, var, module.weight, module.bias, module.eps, cfg, generator)
            shape = (1, -1, 1, 1)
            v = w1.reshape(shape) * x + b1.reshape(shape)
            if rail is not None:
                v = v.clamp(-rail, rail)
            chip = w2.reshape(shape) * v + b2.reshape(shape)
        return output + (chip - output).detach()
    return hook


def attach(model: nn.Module, cfg: HWAConfig, generator: torch.Generator | None = None) -> None:
    """Adds the noise (drawn from ``generator``, checkpointed by the trainer) to every Conv2d/Linear
    weight and, with ``cfg.batchnorm_stages``, to every BatchNorm2d module's two stages, and the
    rail clipping to their outputs."""
    cfg.validate()
    rail = cfg.rail_units
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            parametrize.register_parametrization(m, "weight", _Realised(cfg, m, generator))
            if m.bias is not None:
                parametrize.register_parametrization(m, "bias", _RealisedBias(cfg, m, generator))
        if cfg.batchnorm_stages and isinstance(m, nn.BatchNorm2d):
            m.register_forward_hook(_batchnorm_hook(cfg, generator))
        if rail is not None and isinstance(m, (nn.Conv2d, nn.Linear, nn.BatchNorm2d)):
            m.register_forward_hook(_clip_hook(rail))


def plain_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict with the parametrized weights under their plain names (what export.py loads)."""
    out = {}
    for k, v in model.state_dict().items():
        out[k.replace(".parametrizations.weight.original", ".weight").replace(".parametrizations.bias.original", ".bias")] = v
    return out


def state_dict_from_hdf5(path: str, module: nn.Module) -> dict[str, torch.Tensor]:
    """Weights of an XbarSim model file as a state dict for ``module`` (whose op names are its module paths)."""
    import os
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from h5model import GraphError, read_model
    try:
        ops, _ = read_model(path)
    except GraphError as e:
        raise ValueError(str(e)) from None
    own = module.state_dict()
    sd: dict[str, torch.Tensor] = {}
    names = {"weight": "weight", "bias": "bias", "gamma": "weight", "beta": "bias",
             "running_mean": "running_mean", "running_var": "running_var"}
    for op in ops:
        for k, arr in op.tensors.items():
            key = f"{op.name}.{names[k]}"
            if key in own:
                sd[key] = torch.from_numpy(arr.copy()).reshape(own[key].shape)
    for k, v in own.items():
        if k.endswith("num_batches_tracked") and k not in sd:
            sd[k] = torch.zeros_like(v)
    missing = [k for k in own if k not in sd]
    if missing:
        raise ValueError(f"{path}: no weights for {len(missing)} parameter(s) of {type(module).__name__}: {missing[:5]}")
    return sd


@torch.no_grad()
def realise_chip(model: nn.Module, cfg: HWAConfig, generator: torch.Generator | None = None) -> nn.Module:
    """Replaces, in place, every Conv2d/Linear weight and bias by one chip's realised values and
    (with ``cfg.batchnorm_stages``) every BatchNorm2d by its realised two-stage module, folded
    into the BN as ``y = w2 (w1 x + b1) + b2`` with a zero running mean (rails not applied)."""
    for mod in model.modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            w_eff, b_eff = realised(mod.weight, cfg, mod.bias, generator)
            mod.weight.copy_(w_eff)
            if b_eff is not None:
                mod.bias.copy_(b_eff)
        elif cfg.batchnorm_stages and isinstance(mod, nn.BatchNorm2d):
            w1, b1, w2, b2 = realised_batchnorm(mod.running_mean, mod.running_var, mod.weight, mod.bias, mod.eps,
                                                cfg, generator)
            mod.weight.copy_(w2 * w1 * torch.sqrt(mod.running_var + mod.eps))
            mod.bias.copy_(w2 * b1 + b2)
            mod.running_mean.zero_()
    return model


@torch.no_grad()
def noisy_accuracy(make_model, state_dict: dict, cfg: HWAConfig, images: torch.Tensor, labels: torch.Tensor,
                   normalise, chips: int = 1, seed: int = 0, batch: int = 500) -> list[float]:
    """Accuracy of ``chips`` chips drawn from ``cfg`` for the plain weights ``state_dict`` of a fresh
    ``make_model()`` (a PyTorch estimate; XbarSim's ``eval`` is the measurement)."""
    accs = []
    for c in range(chips):
        gen = torch.Generator().manual_seed(seed * 1000 + c)
        m = make_model()
        m.load_state_dict(state_dict)
        m = realise_chip(m.eval(), cfg, gen).to(memory_format=torch.channels_last)
        correct = 0
        for i in range(0, images.shape[0], batch):
            x = normalise(images[i:i + batch]).contiguous(memory_format=torch.channels_last)
            correct += (m(x).argmax(1) == labels[i:i + batch]).sum().item()
        accs.append(correct / images.shape[0])
    return accs
