"""ONNX Runtime against PyTorch on the CPU, per learned network, at equal output (issue #20).

Run by hand (ONNX Runtime is not a dependency; install it to measure)::

    pip install onnxruntime onnx
    python benchmarks/bench_onnx.py                # 2 threads, 512 px tiles
    python benchmarks/bench_onnx.py --threads 1

For the denoiser, hole fill and the damage detector: one tile through PyTorch
in fp32 (channels-last, as the engine runs it), through PyTorch under bf16
autocast where the CPU computes bf16 natively (what the engine runs there:
:func:`enhance_core.learned.engine.use_cpu_bf16`), and through ONNX Runtime
(the network exported with ``torch.onnx.export``, fp32). Each prints the
best of four timed runs after one warm-up, the ratios, and the largest
difference of each output from PyTorch fp32. Both sides run in this process,
one after the other, so the ratios hold on a busy machine.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def best_of(run: Callable[[], Any], count: int = 4) -> float:
    """Best wall seconds of ``count`` runs of ``run`` after one warm-up."""
    run()
    times = []
    for _ in range(count):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    """Time every network three ways and print the figures; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tile", type=int, default=512)
    args = parser.parse_args()
    try:
        import onnxruntime
    except ImportError:
        print("ONNX Runtime is not installed: pip install onnxruntime onnx")
        return 2
    import torch

    from enhance_core.learned import registry
    from enhance_core.learned.engine import use_cpu_bf16

    torch.set_num_threads(args.threads)
    side = args.tile
    rng = torch.Generator().manual_seed(0)
    cases = {
        "denoise": (torch.rand(1, 3, side, side, generator=rng), torch.full((1, 1, side, side), 25 / 255)),
        "inpaint": (torch.rand(1, 3, side, side, generator=rng),
                    (torch.rand(1, 1, side, side, generator=rng) > 0.9).float()),
        "detect": (torch.rand(1, 3, side, side, generator=rng),),
    }
    bf16 = use_cpu_bf16()
    print(f"onnxruntime {onnxruntime.__version__}, torch {torch.__version__}, {args.threads} thread(s), "
          f"{side} px tile; native bf16: {bf16}")
    for name, inputs in cases.items():
        network = registry.load_model(name, device="cpu").eval()
        names = [f"input{i}" for i in range(len(inputs))]
        exported = io.BytesIO()
        torch.onnx.export(network, tuple(t[..., :64, :64] for t in inputs), exported, input_names=names,
                          output_names=["output"], dynamo=False, opset_version=17,
                          dynamic_axes={n: {2: "rows", 3: "cols"} for n in names})
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = args.threads
        session = onnxruntime.InferenceSession(exported.getvalue(), options, providers=["CPUExecutionProvider"])
        feed = {n: t.numpy() for n, t in zip(names, inputs)}

        def run_torch(autocast: bool) -> np.ndarray:
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                return network(*[t.contiguous(memory_format=torch.channels_last) for t in inputs]).float().numpy()

        reference = run_torch(False)
        t_fp32 = best_of(lambda: run_torch(False))
        t_ort = best_of(lambda: session.run(None, feed))
        ort_diff = float(np.abs(session.run(None, feed)[0] - reference).max())
        line = (f"{name:8} torch fp32 {t_fp32:6.3f} s   ONNX Runtime {t_ort:6.3f} s ({t_fp32 / t_ort:4.2f}x, "
                f"max diff {ort_diff:.1e})")
        if bf16:
            t_bf16 = best_of(lambda: run_torch(True))
            bf16_diff = float(np.abs(run_torch(True) - reference).max())
            line += f"   torch bf16 {t_bf16:6.3f} s ({t_fp32 / t_bf16:4.2f}x, max diff {bf16_diff:.1e})"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
