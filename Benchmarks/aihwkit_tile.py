#!/usr/bin/env python3
"""Crossbar-tile throughput of IBM aihwkit's analog inference tile (CPU), for comparison with
`xbarsim bench --tile-only` on the same matrix sizes and batch.

Both sides: an R x R fully connected layer, weights uniform in [-1, 1], inputs uniform in
[-1, 1], `--batch` input vectors per forward pass, `--repeats` timed passes after one untimed
warm-up pass, programming noise applied once (aihwkit: `program_analog_weights()` with
`PCMLikeNoiseModel`; XbarSim: 5 % relative programming variation) and read noise on every
pass (aihwkit: additive constant weight noise `w_noise = 0.02`; XbarSim: 2 % relative read
noise). Converters are ideal on both sides (aihwkit: `inp_res = out_res = -1`, no output
noise, no bound/noise management) and tiles are not split (`max_input_size = 0`).

The two noise models are not identical (aihwkit's PCM programming noise is a polynomial in
the conductance, its weight noise is additive; XbarSim's are relative to each device's
conductance), so compare throughput, not the error column.

    pip install aihwkit torch          # CPU wheels; not installable on the project machine
    OPENBLAS_NUM_THREADS=1 python Benchmarks/aihwkit_tile.py --threads 2 --batch 256 --sizes 128,256,512 --repeats 20 \\
        [--noise additive|pcm-read]      # drift compensation off (aihwkit's best settings)
    .build/release/xbarsim bench --tile-only --threads 2 --tile-batch 256 --tile-sizes 128,256,512 --tile-repeats 20

Prints one JSON object: {"aihwkit": version, "torch": version, "tiles": [{rows, columns,
batch, repeats, programSeconds, vectorsPerSecond, floatVectorsPerSecond, ratioToFloat,
relativeRMSError}]} (the error of the warm-up pass against the float layer).
"""
import argparse
import json
import time

import torch


def rpu_config(noise: str = "additive"):
    from aihwkit.simulator.configs import InferenceRPUConfig
    try:
        from aihwkit.simulator.configs import WeightNoiseType, NoiseManagementType, BoundManagementType
    except ImportError:  # older aihwkit
        from aihwkit.simulator.configs.utils import WeightNoiseType, NoiseManagementType, BoundManagementType
    from aihwkit.inference import PCMLikeNoiseModel

    config = InferenceRPUConfig()
    config.forward.inp_res = -1
    config.forward.out_res = -1
    config.forward.out_noise = 0.0
    if noise == "pcm-read":
        # Per-device read noise, like XbarSim's (each device's conductance read with its own noise).
        config.forward.w_noise_type = WeightNoiseType.PCM_READ
    else:
        config.forward.w_noise_type = WeightNoiseType.ADDITIVE_CONSTANT
    config.forward.w_noise = 0.02
    config.forward.noise_management = NoiseManagementType.NONE
    config.forward.bound_management = BoundManagementType.NONE
    config.forward.out_bound = -1
    config.forward.inp_bound = -1  # no input clipping (XbarSim's tile has no DAC in this benchmark)
    config.noise_model = PCMLikeNoiseModel(g_max=25.0)
    config.drift_compensation = None   # its best setting for throughput (XbarSim's tile bench has no drift either)
    config.mapping.max_input_size = 0
    config.mapping.max_output_size = 0
    return config


def bench(size, batch, repeats, seed, noise="additive"):
    from aihwkit.nn import AnalogLinear

    torch.manual_seed(seed)
    weights = torch.rand(size, size) * 2 - 1
    x = torch.rand(batch, size) * 2 - 1
    layer = AnalogLinear(size, size, bias=False, rpu_config=rpu_config(noise))
    layer.set_weights(weights, None)
    layer.eval()
    start = time.perf_counter()
    layer.program_analog_weights()
    program = time.perf_counter() - start
    with torch.no_grad():
        noisy = layer(x)  # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            layer(x)
        seconds = time.perf_counter() - start
        float_layer = torch.nn.Linear(size, size, bias=False)
        float_layer.weight.copy_(weights)
        exact = float_layer(x)
        start = time.perf_counter()
        for _ in range(repeats):
            float_layer(x)
        float_seconds = time.perf_counter() - start
    vectors = batch * repeats
    return {
        "rows": size, "columns": size, "batch": batch, "repeats": repeats, "programSeconds": program,
        "vectorsPerSecond": vectors / seconds, "floatVectorsPerSecond": vectors / float_seconds,
        "ratioToFloat": float_seconds / seconds,
        "relativeRMSError": float(((noisy - exact).pow(2).mean() / exact.pow(2).mean()).sqrt()),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="128,256,512")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise", choices=["additive", "pcm-read"], default="additive",
                        help="aihwkit read noise: additive constant weight noise, or per-device PCM_READ noise")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import aihwkit

    tiles = [bench(int(s), args.batch, args.repeats, args.seed, args.noise) for s in args.sizes.split(",")]
    print(json.dumps({"aihwkit": aihwkit.__version__, "torch": torch.__version__, "threads": args.threads,
                      "noise": args.noise, "tiles": tiles}, indent=2))


if __name__ == "__main__":
    main()
