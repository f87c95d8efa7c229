"""Dynamic int8 quantization of an ONNX model, for the ONNX Runtime int8 peer of bench/model.sh:
what onnxruntime.quantization.quantize_dynamic does by default ("IntegerOps" mode), written with
the onnx package alone (ORT's quantization tools are Python-only and not installable here; Debian's
python3-onnx is).

  /usr/bin/python3 bench/peers/onnx_quantize.py DIR/base.onnx [-o DIR/base.int8.onnx] [--per-tensor]
                                                [--reduce-range] [--keep-gemm]

Every MatMul whose second input is a constant initializer (a weight [K, N], possibly behind
Identity nodes) becomes

    x --DynamicQuantizeLinear--> x_q (uint8), x_scale, x_zp
    MatMulInteger(x_q, W_q, x_zp, W_zp) --Cast(float)--> acc
    Mul(acc, Mul(x_scale, W_scale)) --> the MatMul's output

with W_q int8, symmetric (zero point 0, scale = max|w| / 127), per output channel (W_scale has N
entries, broadcast on the last axis) by default, like quantize_dynamic(per_channel=True,
weight_type=QInt8); --per-tensor gives one scale per weight. --reduce-range uses 7 bits (±64), as
quantize_dynamic(reduce_range=True): without VNNI, ORT's u8·s8 kernel adds pairs of products in
saturating 16-bit lanes (AVX2 vpmaddubsw), so 255 · 127 · 2 overflows on large activations; the
default is quantize_dynamic's (8 bits, saturation possible). As in quantize_dynamic, an activation
feeding several MatMuls (Q, K and V) is quantized once, and MatMuls of two activations (attention's
Q·Kᵀ and P·V) stay fp32. ONNX Runtime's graph optimiser fuses the pattern into
MatMulIntegerToFloat / DynamicQuantizeMatMul. The bias Add after each MatMul is left as exported.

Gemm nodes with a constant B (torch exports the pooler's nn.Linear on a 2-D input as one) are
rewritten the same way, B transposed to [K, N] when transB=1, C added after the scale (alpha = 1 and
transA = 0 only). quantize_dynamic itself leaves Gemm in fp32: --keep-gemm does so too.
The embedding tables (Gather) stay fp32 (quantize_dynamic would store them in 8 bits; no speed
difference). Prints what it quantized; the output is checked with onnx.checker.
"""
import argparse
import os
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def quantize_weight(w, per_channel, qmax=127):
    """w [K, N] float -> (int8 [K, N], float32 scales [N] or scalar): symmetric, zero point 0,
    values in [-qmax, qmax]."""
    absmax = np.abs(w).max(axis=0) if per_channel else np.abs(w).max()
    scale = (np.asarray(absmax, dtype=np.float64) / qmax).astype(np.float32)
    scale = np.where(scale > 0, scale, np.float32(1.0)).astype(np.float32)  # all-zero channel: any scale
    q = np.clip(np.round(w / scale), -qmax, qmax).astype(np.int8)
    return q, scale


class Quantizer:
    def __init__(self, model, per_channel, keep_gemm, reduce_range=False):
        self.model, self.graph = model, model.graph
        self.per_channel, self.keep_gemm = per_channel, keep_gemm
        self.qmax = 64 if reduce_range else 127
        self.inits = {t.name: t for t in self.graph.initializer}
        # outputs of Identity nodes, back to what they copy (the exporter deduplicates weights so)
        self.identity = {n.output[0]: n.input[0] for n in self.graph.node if n.op_type == "Identity"}
        self.new_inits = []
        self.weights = {}      # (initializer, transposed) -> (W_q name, scale name, zp name)
        self.activations = {}  # activation name -> (x_q, x_scale, x_zp) of its DynamicQuantizeLinear
        self.counts = {"MatMul": 0, "Gemm": 0, "fp32 MatMul": 0, "fp32 Gemm": 0}

    def constant(self, name):
        """The float initializer behind `name` (through Identity nodes), or None."""
        seen = 0
        while name not in self.inits and name in self.identity and seen < 100:
            name, seen = self.identity[name], seen + 1
        t = self.inits.get(name)
        return t if t is not None and t.data_type == TensorProto.FLOAT else None

    def add_init(self, array, name):
        self.new_inits.append(numpy_helper.from_array(array, name))
        return name

    def weight(self, init, transpose):
        """Quantized weight [K, N] for an initializer (transposed first for Gemm's transB=1)."""
        key = (init.name, transpose)
        if key not in self.weights:
            w = numpy_helper.to_array(init).astype(np.float32)
            if transpose:
                w = np.ascontiguousarray(w.T)
            q, scale = quantize_weight(w, self.per_channel, self.qmax)
            base = init.name + ("_T" if transpose else "")
            zp = np.zeros(scale.shape, dtype=np.int8)
            self.weights[key] = (self.add_init(q, base + "_quantized"), self.add_init(scale, base + "_scale"),
                                 self.add_init(zp, base + "_zero_point"))
        return self.weights[key]

    def activation(self, name, nodes):
        """DynamicQuantizeLinear of `name`, added once per activation."""
        if name not in self.activations:
            out = (name + "_quantized", name + "_scale", name + "_zero_point")
            nodes.append(helper.make_node("DynamicQuantizeLinear", [name], list(out), name + "_QuantizeLinear"))
            self.activations[name] = out
        return self.activations[name]

    def integer_matmul(self, node, x, wq, output, nodes):
        """x (float) times the quantized weight wq = (W_q, W_scale, W_zp) into `output` (float)."""
        xq, xs, xz = self.activation(x, nodes)
        wname, wscale, wzp = wq
        stem = node.name or output
        acc = output + "_output_quantized"
        nodes.append(helper.make_node("MatMulInteger", [xq, wname, xz, wzp], [acc], stem + "_quant"))
        nodes.append(helper.make_node("Cast", [acc], [acc + "_cast_output"], acc + "_cast", to=TensorProto.FLOAT))
        nodes.append(helper.make_node("Mul", [xs, wscale], [stem + "_quant_scales_mul:0"], stem + "_quant_scales_mul"))
        nodes.append(helper.make_node("Mul", [acc + "_cast_output", stem + "_quant_scales_mul:0"], [output],
                                      stem + "_quant_output_scale_mul"))

    def run(self):
        nodes = []
        for node in self.graph.node:
            if node.op_type == "MatMul":
                w = self.constant(node.input[1])
                if w is None or len(w.dims) != 2:
                    self.counts["fp32 MatMul"] += 1
                    nodes.append(node)
                    continue
                self.integer_matmul(node, node.input[0], self.weight(w, False), node.output[0], nodes)
                self.counts["MatMul"] += 1
            elif node.op_type == "Gemm":
                a = {at.name: helper.get_attribute_value(at) for at in node.attribute}
                w = self.constant(node.input[1])
                if (self.keep_gemm or w is None or len(w.dims) != 2 or a.get("transA", 0)
                        or a.get("alpha", 1.0) != 1.0 or (len(node.input) > 2 and node.input[2]
                                                          and a.get("beta", 1.0) != 1.0)):
                    self.counts["fp32 Gemm"] += 1
                    nodes.append(node)
                    continue
                has_c = len(node.input) > 2 and node.input[2] != ""
                product = node.output[0] + "_product" if has_c else node.output[0]
                self.integer_matmul(node, node.input[0], self.weight(w, bool(a.get("transB", 0))), product, nodes)
                if has_c:
                    nodes.append(helper.make_node("Add", [product, node.input[2]], [node.output[0]],
                                                  (node.name or node.output[0]) + "_bias_add"))
                self.counts["Gemm"] += 1
            else:
                nodes.append(node)
        # drop the Identity copies of float weights no node reads any more, then those weights
        outputs = {o.name for o in self.graph.output}
        while True:
            used = {i for n in nodes for i in n.input} | outputs
            live = [n for n in nodes if n.op_type != "Identity" or n.output[0] in used]
            if len(live) == len(nodes):
                break
            nodes = live
        del self.graph.node[:]
        self.graph.node.extend(nodes)
        kept = [t for t in self.graph.initializer if t.name in used]
        del self.graph.initializer[:]
        self.graph.initializer.extend(kept + self.new_inits)
        # MatMulInteger needs opset >= 10, DynamicQuantizeLinear >= 11
        for op in self.model.opset_import:
            if op.domain in ("", "ai.onnx") and op.version < 11:
                op.version = 11


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input", help="fp32 ONNX model (torch_bert.py --export-onnx DIR writes DIR/<model>.onnx)")
    ap.add_argument("-o", "--output", help="default: the input with .onnx replaced by .int8.onnx")
    ap.add_argument("--per-tensor", action="store_true", help="one scale per weight instead of one per output column")
    ap.add_argument("--reduce-range", action="store_true", help="7-bit weights (no u8*s8 saturation without VNNI)")
    ap.add_argument("--keep-gemm", action="store_true", help="leave Gemm nodes in fp32, as quantize_dynamic does")
    args = ap.parse_args()
    out = args.output or (args.input[:-5] if args.input.endswith(".onnx") else args.input) + ".int8.onnx"
    t0 = time.perf_counter()
    model = onnx.load(args.input)
    q = Quantizer(model, per_channel=not args.per_tensor, keep_gemm=args.keep_gemm, reduce_range=args.reduce_range)
    q.run()
    onnx.checker.check_model(model)
    onnx.save(model, out)
    c = q.counts
    print(f"onnx_quantize: {out}: {c['MatMul']} MatMul + {c['Gemm']} Gemm with constant weights to int8 "
          f"({'per tensor' if args.per_tensor else 'per output channel'}, symmetric, {'7' if args.reduce_range else '8'}"
          f" bits), {len(q.activations)} "
          f"DynamicQuantizeLinear; {c['fp32 MatMul']} MatMul + {c['fp32 Gemm']} Gemm left fp32; "
          f"{os.path.getsize(args.input) / 2**20:.1f} -> {os.path.getsize(out) / 2**20:.1f} MiB "
          f"in {time.perf_counter() - t0:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
