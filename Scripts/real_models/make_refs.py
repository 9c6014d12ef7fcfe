#!/usr/bin/env python3
"""Reference outputs for the real models, computed with onnxruntime (PyPI) on generated inputs.

Usage: make_refs.py [CACHE_DIR]   (run Scripts/real_models/fetch.sh first)
Writes Tests/Fixtures/real/<case>/*.pb (ONNX TensorProto, as in ONNX's backend tests) and
Tests/Fixtures/real/cases.json, which lists for each case its model, the calls (inputs and
onnxruntime's outputs), outputs carried from one call to the next (recurrent state) and how a
stored uint8 image becomes the float32 input (x = u8 * scale[c] + offset[c], two float32 ops).
Inputs are generated here, seeded: rendered text (Pillow) for the OCR models, a synthetic voiced
burst for VAD, tokenised sentences for MiniLM, a synthetic scene for the detectors, this
repository's own source bytes for magika.
"""
import json, os, sys
import numpy as np
import onnxruntime as ort
from onnx import numpy_helper
from PIL import Image, ImageDraw, ImageFont

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "real")
CACHE = sys.argv[1] if len(sys.argv) > 1 else (os.environ.get("MURMUR_MODEL_CACHE") or
                                               os.path.expanduser("~/.cache/murmur/real-models"))
rng = np.random.default_rng(20261125)


def font(size):
    return ImageFont.load_default(size=size)


# Inputs added later draw from their own generator so the earlier fixtures stay byte-identical.
rng_extra = np.random.default_rng(1125)


def text_image(text, w, h, size, rgb=True, r=None):
    r = r or rng
    img = Image.new("RGB", (w, h), (235, 232, 225))
    d = ImageDraw.Draw(img)
    d.text((4, (h - size) // 2 - 2), text, fill=(20, 20, 30), font=font(size))
    a = np.asarray(img, dtype=np.uint8)
    noise = r.integers(-6, 7, size=a.shape)
    a = np.clip(a.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    return a if rgb else np.asarray(Image.fromarray(a).convert("L"), dtype=np.uint8)


def scene(w, h, r=None):
    r = r or rng
    """A synthetic photo-like scene: gradient sky, a few shapes, a figure-like blob, text."""
    img = Image.new("RGB", (w, h))
    px = np.zeros((h, w, 3), np.uint8)
    yy = np.linspace(0, 1, h)[:, None]
    px[..., 0] = (90 + 120 * yy).astype(np.uint8)
    px[..., 1] = (140 + 60 * yy).astype(np.uint8)
    px[..., 2] = (200 - 80 * yy).astype(np.uint8)
    img = Image.fromarray(px)
    d = ImageDraw.Draw(img)
    d.ellipse((w * 0.35, h * 0.15, w * 0.6, h * 0.4), fill=(224, 172, 140))
    d.rectangle((w * 0.3, h * 0.38, w * 0.65, h * 0.9), fill=(200, 150, 120))
    d.rectangle((w * 0.05, h * 0.6, w * 0.25, h * 0.95), fill=(60, 90, 40))
    d.text((w * 0.68, h * 0.1), "A7", fill=(250, 250, 250), font=font(h // 6))
    a = np.asarray(img, dtype=np.uint8)
    return np.clip(a.astype(np.int16) + r.integers(-8, 9, size=a.shape), 0, 255).astype(np.uint8)


def chw(a):
    return np.ascontiguousarray(a.transpose(2, 0, 1)[None])


def affine_apply(u8, scale, offset):
    s = np.asarray(scale, np.float32).reshape(1, -1, 1, 1)
    o = np.asarray(offset, np.float32).reshape(1, -1, 1, 1)
    return (u8.astype(np.float32) * s).astype(np.float32) + o


def f32(x):
    return float(np.float32(x))


cases = []


def save(name, arr, case_dir, tag):
    os.makedirs(os.path.join(OUT, case_dir), exist_ok=True)
    rel = f"{case_dir}/{tag}.pb"
    t = numpy_helper.from_array(np.array(arr, order="C", copy=True), name)  # keeps 0-d scalars 0-d
    with open(os.path.join(OUT, rel), "wb") as f:
        f.write(t.SerializeToString())
    return rel


def add_case(case, model, calls, carry=None, note=""):
    """calls: list of dicts input name -> (array, affine or None). Runs onnxruntime over them."""
    sess = ort.InferenceSession(os.path.join(CACHE, "models", model + ".onnx"), providers=["CPUExecutionProvider"])
    out_names = [o.name for o in sess.get_outputs()]
    carried = {}
    entry = {"name": case, "model": model, "note": note, "carry": carry or {}, "calls": []}
    for ci, feeds in enumerate(calls):
        ins, run_feeds = {}, {}
        for k, (arr, aff) in feeds.items():
            if aff is None:
                ins[k] = {"file": save(k, arr, case, f"call{ci}_in_{len(ins)}")}
                run_feeds[k] = arr
            else:
                ins[k] = {"file": save(k, arr, case, f"call{ci}_in_{len(ins)}"), "scale": [f32(v) for v in aff[0]],
                          "offset": [f32(v) for v in aff[1]]}
                run_feeds[k] = affine_apply(arr, *aff)
        run_feeds.update(carried)
        res = sess.run(out_names, run_feeds)
        outs = {n: save(n, r, case, f"call{ci}_out_{i}") for i, (n, r) in enumerate(zip(out_names, res))}
        entry["calls"].append({"inputs": ins, "outputs": outs})
        carried = {dst: res[out_names.index(src)] for src, dst in (carry or {}).items()}
        print(f"{case} call {ci}: " + ", ".join(f"{n}{list(r.shape)}" for n, r in zip(out_names, res)), file=sys.stderr)
    cases.append(entry)


HALF = ([f32(2 / 255)] * 3, [-1.0] * 3)        # (x/255 - 0.5) / 0.5
UNIT = ([f32(1 / 255)] * 3, [0.0] * 3)          # x/255
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
IMAGENET = ([f32(1 / (255 * s)) for s in STD], [f32(-m / s) for m, s in zip(MEAN, STD)])

# --- PP-OCR (rapidocr-onnxruntime) ---
line = text_image("Murmur 2026: mesh", 256, 96, 30)
line2 = text_image("OK", 128, 64, 28, r=rng_extra)
add_case("ppocr_v4_det", "ppocr_v4_det", [{"x": (chw(line), IMAGENET)}, {"x": (chw(line2), IMAGENET)}],
         note="96x256 rendered text line, then 64x128 (one loaded model, two input sizes), ImageNet normalisation")
word = text_image("Verify 42", 128, 48, 30)
add_case("ppocr_v4_rec", "ppocr_v4_rec", [{"x": (chw(word), HALF)}], note="48x128 rendered word, (x/255-0.5)/0.5")
flipped = np.ascontiguousarray(word[::-1, ::-1])
wide = np.concatenate([word, np.full((48, 64, 3), 232, np.uint8)], axis=1)
add_case("ppocr_mobile_v2_cls", "ppocr_mobile_v2_cls", [{"x": (chw(wide), HALF)}, {"x": (chw(np.concatenate([flipped, np.full((48, 64, 3), 232, np.uint8)], axis=1)), HALF)}],
         note="48x192 rendered text upright, then rotated 180 degrees")

# --- ddddocr ---
g = text_image("x7Kp9", 96, 64, 40, rgb=False)[None, None]
GRAY = ([f32(2 / 255)], [-1.0])
add_case("ddddocr_common", "ddddocr_common", [{"input1": (np.ascontiguousarray(g), GRAY)}],
         note="64x96 grey captcha-like text; declared output [1, seqlen], real output [seq, 1, 8210]")
# The quantised model's integer kernels are slow in debug builds: a narrower image keeps the test short.
g_old = np.ascontiguousarray(g[..., :48])
add_case("ddddocr_old", "ddddocr_old", [{"input1": (g_old, GRAY)}], note="dynamically quantised model, the first 48 columns of the same image")
add_case("ddddocr_det", "ddddocr_det", [{"images": (chw(scene(416, 416)), ([1.0] * 3, [0.0] * 3))}],
         note="416x416 synthetic scene (fixed input size), raw 0..255")

# --- nudenet YOLOv8n ---
add_case("nudenet_320n", "nudenet_320n", [{"images": (chw(scene(224, 224)), UNIT)}, {"images": (chw(scene(256, 160, r=rng_extra)), UNIT)}],
         note="224x224 synthetic scene, then 160x256 (one loaded model, two input sizes), x/255")

# --- magika ---
src = open(os.path.join(ROOT, "Sources", "MurmurInference", "Tensor.swift"), "rb").read()
beg = list(src.lstrip()[:1024]); beg += [256] * (1024 - len(beg))
end = list(src.rstrip()[-1024:]); end = [256] * (1024 - len(end)) + end
add_case("magika_standard_v3_3", "magika_standard_v3_3", [{"bytes": (np.array([beg + end], np.int32), None)}],
         note="Sources/MurmurInference/Tensor.swift's first and last 1024 bytes (as of the fixture), int32")

# --- silero-vad: a voiced burst (harmonics of a gliding pitch, formant-ish envelope) in noise ---
sr = 16000
t = np.arange(sr // 4 + 64) / sr
f0 = 140 + 40 * np.sin(2 * np.pi * 3 * t)
phase = 2 * np.pi * np.cumsum(f0) / sr
voiced = sum(np.sin(k * phase) / k for k in range(1, 12)) * np.clip(np.sin(np.pi * t / t[-1]) * 1.5, 0, 1)
audio = (0.3 * voiced + 0.01 * rng.standard_normal(t.shape)).astype(np.float32)
chunks = [audio[i * 512: i * 512 + 576][None] for i in range(4)]
state0 = np.zeros((2, 1, 128), np.float32)
srt = np.array(16000, np.int64)
for m in ["silero_vad", "silero_vad_16k_op15", "silero_vad_op18_ifless", "silero_vad_half"]:
    sess_inputs = [i.name for i in ort.InferenceSession(os.path.join(CACHE, "models", m + ".onnx")).get_inputs()]
    calls = []
    for ci, c in enumerate(chunks):
        f = {"input": (c, None)}
        if "sr" in sess_inputs:
            f["sr"] = (srt, None)
        if ci == 0:
            f["state"] = (state0, None)
        calls.append(f)
    add_case(m, m, calls, carry={"stateN": "state"}, note="4 windows of 576 samples (64 context + 512), 16 kHz, state carried")
# The 8 kHz branch of the If on sr: 256-sample windows with 32 samples of context.
audio8 = audio[::2].copy()
chunks8 = [audio8[i * 256: i * 256 + 288][None] for i in range(3)]
for m in ["silero_vad", "silero_vad_16k_op15"]:
    calls = [{"input": (c, None), "sr": (np.array(8000, np.int64), None)} for c in chunks8]
    calls[0]["state"] = (state0, None)
    add_case(m + "_8k", m, calls, carry={"stateN": "state"}, note="8 kHz: 3 windows of 288 samples (32 context + 256), the other If branch")
calls = [{"input": (chunks[0], None), "state": (state0, None)}] + [{"input": (c, None)} for c in chunks[1:]]
add_case("silero_vad_openvino_16k", "silero_vad_openvino_16k", calls, carry={"stateN": "state"}, note="as above")
add_case("silero_vad_16k_sequence", "silero_vad_16k_sequence",
         [{"input": (np.concatenate(chunks, 0), None), "h": (np.zeros((1, 1, 128), np.float32), None), "c": (np.zeros((1, 1, 128), np.float32), None)}],
         note="the 4 windows as one sequence")

# --- all-MiniLM-L6-v2 (built by build_minilm.py) ---
tok = json.load(open(os.path.join(CACHE, "minilm", "tokenizer.json")))
vocab = tok["model"]["vocab"]


def wordpiece(text):
    import unicodedata
    text = unicodedata.normalize("NFD", text.lower())
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    words, cur = [], ""
    for ch in text:
        if ch.isspace():
            if cur: words.append(cur); cur = ""
        elif unicodedata.category(ch).startswith("P") or ch in "$+<=>^`|~":
            if cur: words.append(cur); cur = ""
            words.append(ch)
        else:
            cur += ch
    if cur: words.append(cur)
    ids = [vocab["[CLS]"]]
    for w in words:
        start, pieces = 0, []
        while start < len(w):
            end = len(w)
            while end > start:
                piece = ("##" if start else "") + w[start:end]
                if piece in vocab:
                    pieces.append(vocab[piece]); break
                end -= 1
            if end == start:
                pieces = [vocab["[UNK]"]]; break
            start = end
        ids += pieces
    return ids + [vocab["[SEP]"]]


sents = ["Volunteers run open models on a peer-to-peer mesh.", "Every result is checked by re-running it."]
toks = [wordpiece(s) for s in sents]
L = max(map(len, toks))
ids = np.array([x + [0] * (L - len(x)) for x in toks], np.int64)
mask = np.array([[1] * len(x) + [0] * (L - len(x)) for x in toks], np.int64)
add_case("minilm_l6_v2", "minilm_l6_v2", [{"input_ids": (ids, None), "token_type_ids": (np.zeros_like(ids), None), "attention_mask": (mask, None)}],
         note="two sentences, WordPiece from the package's tokenizer.json, padded to the longer")

with open(os.path.join(OUT, "cases.json"), "w") as f:
    json.dump({"generated_by": "Scripts/real_models/make_refs.py", "onnxruntime": ort.__version__, "cases": cases}, f, indent=1)
    f.write("\n")
