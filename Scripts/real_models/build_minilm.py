#!/usr/bin/env python3
"""Build the ONNX graph of sentence-transformers all-MiniLM-L6-v2 from its safetensors weights.

Usage: build_minilm.py CACHE_DIR   (reads CACHE/minilm/, writes CACHE/models/minilm_l6_v2.onnx)

The graph uses the op shapes torch.onnx emits for BertModel at opset 14: Gather embeddings with
position ids sliced by the run-time sequence length, LayerNorm decomposed into
ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add, MatMul + Add with pre-transposed weights,
attention heads split with Reshape/Transpose using shapes computed at run time
(Shape/Gather/Unsqueeze/Concat), the extended attention mask (1 - mask) * finfo(float32).min,
Softmax, erf GELU (Div by sqrt 2, Erf, Add 1, Mul, Mul 0.5), then sentence-transformers' mean
pooling over the mask and L2 normalisation.  Only numpy and onnx are needed.
"""
import json, os, struct, sys
import numpy as np
import onnx
from onnx import helper, TensorProto, numpy_helper

HIDDEN, HEADS, LAYERS, EPS = 384, 12, 6, 1e-12
HEAD = HIDDEN // HEADS


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        dt = {"F32": np.float32, "I64": np.int64}[e["dtype"]]
        a, b = e["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=dt).reshape(e["shape"])
    return out


class Builder:
    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, hint):
        self.n += 1
        return f"/{hint}_{self.n}"

    def const(self, hint, arr):
        nm = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(arr), nm))
        return nm

    def op(self, op_type, inputs, hint=None, **attrs):
        out = self.name(hint or op_type)
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out + "_node", **attrs))
        return out

    def layer_norm(self, x, w, b):
        mean = self.op("ReduceMean", [x], axes=[-1], keepdims=1)
        d = self.op("Sub", [x, mean])
        var = self.op("ReduceMean", [self.op("Pow", [d, self.const("two", np.float32(2.0))])], axes=[-1], keepdims=1)
        std = self.op("Sqrt", [self.op("Add", [var, self.const("eps", np.float32(EPS))])])
        y = self.op("Div", [d, std])
        return self.op("Add", [self.op("Mul", [y, self.const("ln_w", w)]), self.const("ln_b", b)])

    def linear(self, x, w, b):
        # torch.nn.Linear exports as MatMul with the transposed weight, then Add of the bias.
        return self.op("Add", [self.op("MatMul", [x, self.const("w", np.ascontiguousarray(w.T))]), self.const("b", b)])


def build(weights):
    g = Builder()
    ids, tt, mask = "input_ids", "token_type_ids", "attention_mask"
    i0, i1 = g.const("zero", np.array(0, np.int64)), g.const("one", np.array(1, np.int64))
    shape = g.op("Shape", [ids])
    batch = g.op("Unsqueeze", [g.op("Gather", [shape, i0], axis=0), g.const("ax0", np.array([0], np.int64))])
    seq = g.op("Unsqueeze", [g.op("Gather", [shape, i1], axis=0), g.const("ax0", np.array([0], np.int64))])
    # position_ids buffer sliced to the sequence length (as BertEmbeddings does).
    pos = g.op("Slice", [g.const("position_ids", weights["embeddings.position_ids"]),
                         g.const("start", np.array([0], np.int64)), seq,
                         g.const("axis", np.array([1], np.int64)), g.const("step", np.array([1], np.int64))])
    we = g.op("Gather", [g.const("word_embeddings", weights["embeddings.word_embeddings.weight"]), ids], axis=0)
    te = g.op("Gather", [g.const("token_type_embeddings", weights["embeddings.token_type_embeddings.weight"]), tt], axis=0)
    pe = g.op("Gather", [g.const("position_embeddings", weights["embeddings.position_embeddings.weight"]), pos], axis=0)
    x = g.op("Add", [g.op("Add", [we, te]), pe])
    x = g.layer_norm(x, weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"])

    # extended attention mask [b, 1, 1, s]: (1 - mask) * finfo(float32).min
    m = g.op("Cast", [g.op("Unsqueeze", [mask, g.const("ax12", np.array([1, 2], np.int64))])], to=TensorProto.FLOAT)
    ext = g.op("Mul", [g.op("Sub", [g.const("one_f", np.float32(1.0)), m]),
                       g.const("fmin", np.float32(np.finfo(np.float32).min))])
    heads_shape = g.op("Concat", [batch, seq, g.const("heads", np.array([HEADS, HEAD], np.int64))], axis=0)
    merged_shape = g.op("Concat", [batch, seq, g.const("hidden", np.array([HIDDEN], np.int64))], axis=0)
    scale = g.const("sqrt_head", np.float32(np.sqrt(HEAD)))

    for l in range(LAYERS):
        p = f"encoder.layer.{l}."
        W = lambda k: weights[p + k]
        def heads(t):
            return g.op("Transpose", [g.op("Reshape", [t, heads_shape])], perm=[0, 2, 1, 3])
        q = heads(g.linear(x, W("attention.self.query.weight"), W("attention.self.query.bias")))
        k = g.op("Transpose", [g.op("Reshape", [g.linear(x, W("attention.self.key.weight"), W("attention.self.key.bias")), heads_shape])], perm=[0, 2, 3, 1])
        v = heads(g.linear(x, W("attention.self.value.weight"), W("attention.self.value.bias")))
        scores = g.op("Add", [g.op("Div", [g.op("MatMul", [q, k]), scale]), ext])
        probs = g.op("Softmax", [scores], axis=-1)
        ctx = g.op("Reshape", [g.op("Transpose", [g.op("MatMul", [probs, v])], perm=[0, 2, 1, 3]), merged_shape])
        att = g.linear(ctx, W("attention.output.dense.weight"), W("attention.output.dense.bias"))
        x = g.layer_norm(g.op("Add", [att, x]), W("attention.output.LayerNorm.weight"), W("attention.output.LayerNorm.bias"))
        h = g.linear(x, W("intermediate.dense.weight"), W("intermediate.dense.bias"))
        erf = g.op("Erf", [g.op("Div", [h, g.const("sqrt2", np.float32(1.4142135381698608))])])
        gelu = g.op("Mul", [g.op("Mul", [h, g.op("Add", [erf, g.const("one_f", np.float32(1.0))])]), g.const("half", np.float32(0.5))])
        out = g.linear(gelu, W("output.dense.weight"), W("output.dense.bias"))
        x = g.layer_norm(g.op("Add", [out, x]), W("output.LayerNorm.weight"), W("output.LayerNorm.bias"))

    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="last_hidden_state_node"))
    # sentence-transformers Pooling(mean) + Normalize
    mf = g.op("Cast", [g.op("Unsqueeze", [mask, g.const("ax_last", np.array([-1], np.int64))])], to=TensorProto.FLOAT)
    summed = g.op("ReduceSum", [g.op("Mul", [x, mf]), g.const("ax1", np.array([1], np.int64))], keepdims=0)
    count = g.op("Clip", [g.op("ReduceSum", [mf, g.const("ax1", np.array([1], np.int64))], keepdims=0),
                          g.const("min_count", np.float32(1e-9))])
    mean = g.op("Div", [summed, count])
    norm = g.op("Sqrt", [g.op("ReduceSum", [g.op("Mul", [mean, mean]), g.const("ax1", np.array([1], np.int64))], keepdims=1)])
    norm = g.op("Clip", [norm, g.const("min_norm", np.float32(1e-12))])
    g.nodes.append(helper.make_node("Div", [mean, norm], ["sentence_embedding"], name="sentence_embedding_node"))

    dims = ["batch", "sequence"]
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, dims) for n in (ids, tt, mask)]
    outputs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", HIDDEN]),
               helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", HIDDEN])]
    graph = helper.make_graph(g.nodes, "all-MiniLM-L6-v2", inputs, outputs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], producer_name="murmur-build_minilm")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def main():
    cache = sys.argv[1]
    weights = load_safetensors(os.path.join(cache, "minilm", "model.safetensors"))
    model = build(weights)
    out = os.path.join(cache, "models", "minilm_l6_v2.onnx")
    tmp = out + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
