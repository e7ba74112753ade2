#!/usr/bin/env python
"""Quality report of the latent-diffusion tumour texture on held-out phantom cases.

For each held-out phantom case the phantom is generated twice from one seed — with its "real"
tumours (label 2) and healthy (same anatomy, no tumour). Each real tumour mask is then re-textured
in the healthy twin by every method (diffusion model(s), the statistical texture), and the tumour's
HU mean/std, its contrast to the surrounding pancreas and its boundary sharpness are compared with
the real tumour. The autoencoder's reconstruction PSNR/SSIM is measured on held-out crops.
The measures and writers live in ``SynTumorLib.texture.quality`` / ``quality_report``; this is their CLI.

    python tools/diffusion_quality_report.py --model M1 [--model-two M2] --cases 4 \
        --out docs/results --png docs/img/diffusion_quality_grid.png

It writes the results page ``docs/results/diffusion-quality.md`` through
``SynTumorLib.utils.results.ResultsPage``, stamped like the benchmarks' pages with the command, the
commit, the date, the machine and the load average; a new run replaces the page.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from SynTumorLib.utils.results import relative_command  # noqa: E402
from SynTumorLib.utils.seeding import child_seed  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="texture model folder (one model conditioned on size)")
    ap.add_argument("--model-two", help="texture model folder of the two-model variant")
    ap.add_argument("--cases", type=int, default=4)
    ap.add_argument("--seed", type=int, default=99, help="held-out cohort seed (the training cohort used 11)")
    ap.add_argument("--spacing", type=float, default=2.0)
    ap.add_argument("--out", default=str(ROOT / "docs" / "results"),
                    help="folder of the results page diffusion-quality.md (default: docs/results)")
    ap.add_argument("--png", default="docs/img/diffusion_quality_grid.png",
                    help="the grid image, relative to the checkout (linked from the page)")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from SynTumorLib.texture import get_texture
    from SynTumorLib.texture.quality import compare_textures, phantom_twin, summarize
    from SynTumorLib.texture.quality_report import results_page, write_grid

    methods = {"diffusion (one model, size class)": get_texture(args.model)}
    if args.model_two:
        methods["diffusion (two models)"] = get_texture(args.model_two)
    methods["statistical"] = get_texture("statistical")
    sp3 = (args.spacing,) * 3
    # case c of the held-out cohort: phantom seed child_seed(seed, "case", c), two real tumours
    cases = (phantom_twin(child_seed(args.seed, "case", c), spacing=sp3, tumours=2, case_id=str(c))
             for c in range(args.cases))
    res = compare_textures(cases, methods, n_cases=args.cases, progress=lambda f, m: print(m, flush=True))
    # the page must not embed this machine's paths: absolute model folders are named by their folder name
    command = relative_command([__file__, *(sys.argv[1:] if argv is None else argv)], ROOT)
    page = results_page(summarize(res), res.skipped, command, args.png)
    write_grid(ROOT / args.png, res.panels, list(methods))
    print(f"wrote {page.write(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
