"""What the worker's segment evaluation reports for the tests' segment model (tests/support/yolo_models.py
`segment_model`: YOLOv8n-seg at half width, 40 epochs on 48 synthetic plates, imgsz 160; built and cached
on first use, about a minute on two cores) on a test split of fresh synthetic plates it never saw: mask
and box mAP, pixel IoU and Dice, per class, with the plots written to --out.

    .venv/bin/python bench/segment_evaluation.py [--plates 32] [--seed 900] [--out /tmp/segment-eval]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
for service in ("services", "training-worker", "registry"):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / service))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plates", type=int, default=32)
    parser.add_argument("--seed", type=int, default=900)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="segment-eval-"))
    out = args.out or work / "eval"

    from linesight_training.offline import configure_ultralytics

    configure_ultralytics(work / "ultralytics", work / "work")
    from linesight_training.evaluation import evaluate
    from tests.support.segment_data import write_segment_splits
    from tests.support.yolo_models import segment_model

    model = segment_model()
    data = write_segment_splits(work / "data", {"train": 1, "val": 1, "test": args.plates}, seed=args.seed)
    ev = evaluate(model, task="segment", data=data, split="test", imgsz=160, out_dir=out)
    print(f"model {model.name}, {ev.images} test plates (seed {args.seed}), imgsz 160, ONNX on CPU")
    for name in ("mask_mAP50", "mask_mAP50-95", "box_mAP50", "box_mAP50-95", "pixel_iou", "dice"):
        print(f"  {name:<14} {ev.metrics[name]:.3f}")
    for cls, row in ev.per_class.items():
        print(
            f"  {cls:<6} instances {row['instances']:>3}  mask P {row['mask_precision']:.3f} "
            f"R {row['mask_recall']:.3f} AP50 {row['mask_ap50']:.3f}  IoU {row['pixel_iou']:.3f} "
            f"Dice {row['dice']:.3f}"
        )
    print(f"plots: {', '.join(str(p) for p in ev.plots.values())}")


if __name__ == "__main__":
    main()
