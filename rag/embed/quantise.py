"""An int8 version of the exported MiniLM graph that keeps the full model's vectors: twice as fast
on CPUs with 8-bit dot products (AVX512-VNNI, AVX-VNNI), within cosine 0.995 of fp32 for every one
of 8,000 real sentences measured (docs and news; min 0.9959 and 0.9965 on two sets of 4,000).

Plain dynamic quantisation (one activation scale per tensor) fails that bar (min cosine 0.96):
BERT-like models carry a few huge activations in fixed channels and on [CLS]/[SEP]. So:
- outlier channels: SmoothQuant moves each input channel's range into the weights
  (d_j = max|x_j|^alpha / max|W_j|^(1-alpha)), with max|x_j| measured on fixed texts below;
- outlier tokens: activations are quantised per token (row), not per tensor;
- weights: int8 per output column; the GELU output (mostly >= 0) is quantised asymmetrically;
- attention is fused into ONNX Runtime's MultiHeadAttention (exact).
Built once per machine from the fp32 export in about 2 s, deterministically, and checked against
it before use (`verify`); the checks are ONNX Runtime's own ops, so a runtime that computes them
differently is caught rather than trusted.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

RECIPE = "int8-r1"  # part of the file name: bump when the recipe changes
SMOOTH_ALPHA = 0.6  # measured: 0.4 fails (min 0.985), 0.5 and 0.7 pass with less room (0.994 / 0.991)
MIN_COSINE = 0.99  # the bar a quantised model must clear against the full one
_ASYMMETRIC = ("f2",)  # the FFN output's input is a GELU output: mostly >= 0
_CLASSES = {"q": "attention/self/query/", "k": "attention/self/key/", "v": "attention/self/value/",
            "ao": "attention/output/dense/", "f1": "intermediate/dense/", "f2": "/output/dense/"}
_SMOOTHED = ("q", "k", "v", "f1", "f2")

# Fixed calibration texts, written for this recipe (short code and prose, news and docs, the
# one-word sentences whose [CLS]/[SEP] activations dominate): they only measure channel ranges.
CALIBRATION = [
    "True", "None", "...", "[3]", "x = 1", "Example:", "Note", "See also:", "or:", "foo()", "__init__()",
    "Return the number of items in the container.",
    "If the key is not found, a KeyError is raised.",
    "This function is deprecated since version 3.8 and will be removed in a future release.",
    "The optional argument timeout specifies a deadline in seconds for the blocking operation.",
    ">>> sorted(d.items(), key=lambda kv: kv[1], reverse=True)",
    "Changed in version 3.10: Added the strict parameter.",
    "Raises ValueError if the string cannot be parsed as a valid date.",
    "for line in open('data.txt'): print(line.rstrip())",
    "The socket must be bound to an address and listening for connections.",
    "Use the -m switch to run a library module as a script.",
    "The central bank raised interest rates by a quarter of a percentage point on Wednesday.",
    "Shares of the company fell 12 percent after it cut its annual profit forecast.",
    "Rescue teams were still searching for survivors late on Sunday, officials said.",
    "The president is expected to sign the bill into law next week.",
    "Heavy rain caused flooding across the region, closing roads and schools.",
    "She scored twice in the second half to give her team a 3-1 victory.",
    "Scientists say the new vaccine could be available by the end of the year.",
    "What is the capital of France?",
    "How do I read a CSV file in Python?",
    "I love this song so much!!!",
    "Thanks, see you tomorrow :)",
    "The quick brown fox jumps over the lazy dog.",
    "Error: file not found (errno 2)",
    "https://example.com/path?query=1",
    "2023-05-17 14:32:01 INFO server started on port 8080",
    "Table 4: Results on the test set (accuracy, %).",
    "In 1969, Apollo 11 landed on the Moon.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "The patient was given 500 mg of ibuprofen twice a day.",
    "A", "OK", "Yes.", "No!", "--verbose", "1.5e-3", "#include <stdio.h>", "SELECT * FROM users WHERE id = 42;",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "Le gouvernement a annoncé de nouvelles mesures économiques.",
]
# Checked after building, besides the calibration texts: sentences the calibration never saw.
_CHECK = [
    "Chinese companies supplied machine tools and microelectronics to Russian arms makers, officials said.",
    "“We are not going to stand by,” the minister told reporters on Friday.",
    "Changed in version 3.12: The default value of the encoding parameter is now UTF-8.",
    "'/'", "... ]", "What happened?", "(Contributed by Victor Stinner in bpo-36763.)",
]


def quantise(src: Path, dst: Path, tokenizer_json: Path) -> None:
    """Write the int8 graph of the fp32 export `src` to `dst` (atomically)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.load(str(src))
    if not any(n.op_type == "MultiHeadAttention" for n in m.graph.node):
        m = _fuse_attention(m)
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    amax = _calibrate(m, tokenizer_json)
    new_inits: list[Any] = []

    def const(name: str, arr: Any) -> str:
        new_inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    const("q8_128u", np.array(128, np.uint8))
    const("q8_128f", np.array(128.0, np.float32))
    const("q8_eps", np.array(1e-8, np.float32))
    const("q8_r127", np.array(1 / 127.0, np.float32))
    const("q8_r255", np.array(1 / 255.0, np.float32))
    const("q8_0f", np.array(0.0, np.float32))
    const("q8_1f", np.array(1.0, np.float32))
    const("q8_m1", np.array([-1], np.int64))
    groups: dict[str, list[Any]] = {}  # MatMuls sharing one input (Q, K and V) share its quantisation
    for n in g.node:
        if n.op_type == "MatMul" and n.input[1] in inits and _class_of(n.name):
            groups.setdefault(n.input[0], []).append(n)
    first = {v[0].name: v for v in groups.values()}
    members = {n.name for v in groups.values() for n in v}
    out: list[Any] = []
    for n in g.node:
        if n.name not in members:
            out.append(n)
            continue
        if n.name not in first:
            continue
        grp = first[n.name]
        classes = {_class_of(nd.name) for nd in grp}
        x = grp[0].input[0]
        p = grp[0].name.replace("/", "_")

        def node(op: str, ins: list[str], outs: list[str], domain: str | None = None, **kw: Any) -> None:
            out.append(helper.make_node(op, ins, outs, name=f"{p}/{op}{len(out)}", domain=domain, **kw))

        ws_ = [numpy_helper.to_array(inits[nd.input[1]]).astype(np.float64) for nd in grp]
        w = np.concatenate(ws_, 1)
        k = w.shape[0]
        if classes & set(_SMOOTHED):
            xa = np.maximum(np.asarray(amax[x], np.float64), 1e-5)
            wa = np.maximum(np.abs(w).max(1), 1e-5)
            d = xa**SMOOTH_ALPHA / wa ** (1 - SMOOTH_ALPHA)
            d = d / np.exp(np.log(d).mean())
            w = w * d[:, None]
            node("Mul", [x, const(p + "_invd", (1 / d).astype(np.float32))], [p + "_xd"])
            x = p + "_xd"
        wscale = np.maximum(np.abs(w).max(0), 1e-12) / 127.0
        wq = np.clip(np.round(w / wscale), -127, 127).astype(np.int8)
        wq_name, ws_name = const(p + "_Wq", wq), const(p + "_ws", wscale.astype(np.float32))
        node("ReduceMax", [x], [p + "_mx"], axes=[-1], keepdims=1)  # per token: [B, S, 1]
        node("ReduceMin", [x], [p + "_mn"], axes=[-1], keepdims=1)
        node("Reshape", [x, const(p + "_k2", np.array([-1, k], np.int64))], [p + "_x2"])
        node("Shape", [x], [p + "_xshape"])
        if classes & set(_ASYMMETRIC):
            node("Max", [p + "_mx", "q8_0f"], [p + "_mx2"])
            node("Min", [p + "_mn", "q8_0f"], [p + "_mn2"])
            node("Sub", [p + "_mx2", p + "_mn2"], [p + "_rg"])
            node("Max", [p + "_rg", "q8_eps"], [p + "_rg2"])
            node("Mul", [p + "_rg2", "q8_r255"], [p + "_s"])
            node("Div", [p + "_mn2", p + "_s"], [p + "_zneg"])
            node("Round", [p + "_zneg"], [p + "_zr"])
            node("Neg", [p + "_zr"], [p + "_z"])  # the zero point, per token
            node("Reshape", [p + "_s", "q8_m1"], [p + "_s1"])
            node("Reshape", [p + "_z", "q8_m1"], [p + "_z1"])
            node("Cast", [p + "_z1"], [p + "_zp"], to=TensorProto.UINT8)
            node("QuantizeLinear", [p + "_x2", p + "_s1", p + "_zp"], [p + "_xq2"], axis=0)
            node("Reshape", [p + "_xq2", p + "_xshape"], [p + "_xq"])
            colsum = const(p + "_wcs", (wscale * wq.astype(np.int64).sum(0)).astype(np.float32))
            node("MatMulIntegerToFloat", [p + "_xq", wq_name, "q8_1f", ws_name], [p + "_y00"], domain="com.microsoft")
            node("Mul", [p + "_z", colsum], [p + "_corr"])  # the zero point's share, taken back out
            node("Sub", [p + "_y00", p + "_corr"], [p + "_y0"])
        else:
            node("Neg", [p + "_mn"], [p + "_mnn"])
            node("Max", [p + "_mx", p + "_mnn"], [p + "_am"])
            node("Max", [p + "_am", "q8_eps"], [p + "_am2"])
            node("Mul", [p + "_am2", "q8_r127"], [p + "_s"])
            node("Reshape", [p + "_s", "q8_m1"], [p + "_s1"])
            node("Mul", [p + "_s1", "q8_0f"], [p + "_z0"])
            node("Add", [p + "_z0", "q8_128f"], [p + "_z1"])
            node("Cast", [p + "_z1"], [p + "_zp"], to=TensorProto.UINT8)
            node("QuantizeLinear", [p + "_x2", p + "_s1", p + "_zp"], [p + "_xq2"], axis=0)
            node("Reshape", [p + "_xq2", p + "_xshape"], [p + "_xq"])
            if len(grp) > 1:  # Q, K and V: one quantised input, three products
                cuts = np.split(np.arange(w.shape[1]), np.cumsum([a.shape[1] for a in ws_])[:-1])
                for nd, cols in zip(grp, cuts):
                    q = nd.name.replace("/", "_") + "_sep"
                    wqi, wsi = const(q + "_Wq", wq[:, cols]), const(q + "_ws", wscale[cols].astype(np.float32))
                    node("MatMulIntegerToFloat", [p + "_xq", wqi, "q8_1f", wsi, "q8_128u"], [q + "_y0"],
                         domain="com.microsoft")
                    node("Mul", [q + "_y0", p + "_s"], [nd.output[0]])
                continue
            # (the per-token scale is applied by a Mul, not as MatMulIntegerToFloat's a_scale: with a
            # bias input as well, ONNX Runtime 1.32 computes that combination wrongly)
            node("MatMulIntegerToFloat", [p + "_xq", wq_name, "q8_1f", ws_name, "q8_128u"], [p + "_y0"],
                 domain="com.microsoft")
        node("Mul", [p + "_y0", p + "_s"], [grp[0].output[0]])
    del g.node[:]
    g.node.extend(out)
    if not any(o.domain == "com.microsoft" for o in m.opset_import):
        m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    used = {i for nd in g.node for i in nd.input}
    keep = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(keep + [t for t in new_inits if t.name in used])
    tmp = dst.with_name(f"{dst.name}.{os.getpid()}.tmp")
    onnx.save(m, str(tmp))
    os.replace(tmp, dst)


def verify(full: Any, quantised: Any, tokenizer: Any) -> float:
    """The smallest cosine between the two sessions' vectors over the calibration and check
    texts (one at a time and as one padded batch)."""
    texts = CALIBRATION + _CHECK
    worst = 1.0
    for batch in [[t] for t in texts] + [texts]:
        encoded = tokenizer.encode_batch(batch)
        width = max(len(e.ids) for e in encoded)
        ids = np.zeros((len(batch), width), np.int64)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encoded):  # (the tokenizer's own mask: it may pad)
            ids[row, : len(e.ids)], mask[row, : len(e.ids)] = e.ids, e.attention_mask
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        a, b = full.run(None, feed)[0], quantised.run(None, feed)[0]
        a = a / np.linalg.norm(a, axis=1, keepdims=True)
        b = b / np.linalg.norm(b, axis=1, keepdims=True)
        worst = min(worst, float((a * b).sum(1).min()))
    return worst


def _class_of(name: str) -> str | None:
    for c, pattern in _CLASSES.items():
        if pattern in name and (c != "f2" or "attention" not in name):
            return c
    return None


def _fuse_attention(m: Any, num_heads: int = 12) -> Any:
    """The exported attention subgraph of each layer as one com.microsoft.MultiHeadAttention
    (Q/K/V biases packed in, the mask as int32): the same numbers, fewer ops."""
    from onnx import TensorProto, helper, numpy_helper

    g = m.graph
    consumers: dict[str, list[Any]] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    matmuls = {n.name: n for n in g.node if n.op_type == "MatMul"}
    mask = helper.make_node("Cast", ["attention_mask"], ["q8_mask_i32"], to=TensorProto.INT32, name="q8/mask_cast")
    inits = {t.name: t for t in g.initializer}
    new_inits, replace = [], {}
    layer = 0
    while f"/model/encoder/layer.{layer}/attention/output/dense/MatMul" in matmuls:
        pre = f"/model/encoder/layer.{layer}/attention/"
        outs, biases = [], []
        for part in ("query", "key", "value"):
            n = matmuls[pre + f"self/{part}/MatMul"]
            adds = [c for c in consumers[n.output[0]] if c.op_type == "Add"]
            bias = [i for i in adds[0].input if i in inits] if len(adds) == 1 else []
            if len(bias) != 1:
                raise ValueError(f"unexpected graph around {n.name}")
            biases.append(numpy_helper.to_array(inits[bias[0]]))
            outs.append(n.output[0])
        packed = pre + "q8_qkv_bias"
        new_inits.append(numpy_helper.from_array(np.concatenate(biases).astype(np.float32), packed))
        context = matmuls[pre + "output/dense/MatMul"].input[0]
        replace[context] = helper.make_node("MultiHeadAttention", outs + [packed, "q8_mask_i32"], [context],
                                            domain="com.microsoft", num_heads=num_heads, name=pre + "q8_mha")
        layer += 1
    if not layer:
        raise ValueError("no attention layers found in the exported graph")
    nodes = [mask] + [replace.get(n.output[0], n) if n.output else n for n in g.node]
    needed = {o.name for o in g.output}
    keep = []
    for n in reversed(nodes):  # drop what no output needs any more (the old attention ops)
        if any(o in needed for o in n.output):
            keep.append(n)
            needed.update(i for i in n.input if i)
    del g.node[:]
    g.node.extend(reversed(keep))
    if not any(o.domain == "com.microsoft" for o in m.opset_import):
        m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    used = {i for n in g.node for i in n.input}
    kept = [t for t in list(g.initializer) + new_inits if t.name in used]
    del g.initializer[:]
    g.initializer.extend(kept)
    return m


def _calibrate(m: Any, tokenizer_json: Path) -> dict[str, np.ndarray]:
    """Per-channel max|x| of every weight MatMul's input, from the fp32 graph on CALIBRATION."""
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_json))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=256)
    probe = onnx.ModelProto()
    probe.CopyFrom(m)
    inits = {t.name for t in probe.graph.initializer}
    inputs = list(dict.fromkeys(n.input[0] for n in probe.graph.node if n.op_type == "MatMul" and n.input[1] in inits))
    for name in inputs:
        probe.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    amax: dict[str, Any] = {name: 0.0 for name in inputs}
    for text in CALIBRATION:
        ids = np.array([tokenizer.encode(text).ids], np.int64)
        outs = session.run(inputs, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                    "token_type_ids": np.zeros_like(ids)})
        for name, a in zip(inputs, outs):
            amax[name] = np.maximum(amax[name], np.abs(a.reshape(-1, a.shape[-1])).max(0))
    return amax


__all__ = ["MIN_COSINE", "RECIPE", "quantise", "verify"]
