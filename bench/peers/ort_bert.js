// ONNX Runtime peer of bench/model.c: inference of the PyTorch peer's BERT (encoder + pooler,
// exported by `torch_bert.py --export-onnx DIR` as DIR/<model>.onnx, fp32) on the CPU execution
// provider with intraOpNumThreads = N, at batch 1 and 8, sequence 128.
//   node bench/peers/ort_bert.js --dir DIR [--threads N] [--model base|tiny|all] [--quick]
//                                [--precision fp32|int8|all] [--iters N] [--budget S] [--seq L]
//                                [--batches 1,8] [--padded]
// --precision int8 (or all: fp32 then int8) runs DIR/<model>.int8.onnx, the dynamic int8 model of
// bench/peers/onnx_quantize.py (MatMulInteger + DynamicQuantizeLinear, which ORT fuses), and
// prints how far its outputs are from the fp32 model's on the same inputs (a printed line, not a
// check). bf16 has no ORT run. Default: fp32.
// bench/squad.sh runs it on the QA model of `torch_squad.py --export-onnx DIR` (DIR/base.onnx)
// with --seq 384 --batches 1,16; --padded gives feature f the attention mask of its first
// 150 + (97 f mod 235) tokens, as bench/squad.c --padded.
// onnxruntime-node is installed into bench/peers/node_modules by bench/model.sh
// (ONNXRUNTIME_NODE_INSTALL=skip npm ci). Lines starting with "RESULT " are read by
// bench/model_report.py.
'use strict';
const fs = require('fs');
const path = require('path');
const os = require('os');
const ort = require('onnxruntime-node');

const CONFIGS = {
  base: { layers: 12, hidden: 768, heads: 12, inter: 3072, vocab: 30522, title: 'BERT-base' },
  tiny: { layers: 3, hidden: 64, heads: 8, inter: 256, vocab: 30522, title: 'demo_tiny_128' },
};

function parseArgs(argv) {
  const a = { dir: null, threads: os.cpus().length, model: 'all', quick: false, iters: 0, budget: -1,
    seq: 128, batches: [1, 8], padded: false, precision: 'fp32' };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i], v = argv[i + 1];
    if (k === '--dir') a.dir = v, i++;
    else if (k === '--threads') a.threads = parseInt(v, 10), i++;
    else if (k === '--model') a.model = v, i++;
    else if (k === '--iters') a.iters = parseInt(v, 10), i++;
    else if (k === '--budget') a.budget = parseFloat(v), i++;
    else if (k === '--quick') a.quick = true;
    else if (k === '--seq') a.seq = parseInt(v, 10), i++;
    else if (k === '--batches') a.batches = v.split(',').map((x) => parseInt(x, 10)), i++;
    else if (k === '--padded') a.padded = true;
    else if (k === '--precision') a.precision = v, i++;
    else throw new Error(`ort_bert.js: unknown option ${k}`);
  }
  if (!a.dir) throw new Error('ort_bert.js: --dir DIR (where torch_bert.py --export-onnx wrote the models) is required');
  if (a.budget < 0) a.budget = a.quick ? 12 : 40;
  const precs = { fp32: ['fp32'], int8: ['int8'], all: ['fp32', 'int8'], bf16: [] };
  if (!(a.precision in precs)) throw new Error(`ort_bert.js: unknown precision ${a.precision} (fp32|int8|all)`);
  a.precisions = precs[a.precision];
  return a;
}

// Same analytic count as bench/model.c: 2·m·n·k per product, attention included.
function forwardFlops(c, L) {
  const H = c.hidden, I = c.inter;
  const layer = 2 * L * H * 3 * H + 2 * L * H * H + 2 * 2 * L * H * I + 2 * 2 * L * L * H;
  return c.layers * layer + 2 * H * H;
}

// Real tokens of feature b: all, or with --padded 150 + (97 b mod 235) (bench/squad.c's formula).
function realLength(a, b) {
  return a.padded ? Math.min(a.seq, 150 + ((97 * b) % 235)) : a.seq;
}

function inputs(c, a, batch) {
  const SEQ_LEN = a.seq, n = batch * SEQ_LEN;
  const ids = new BigInt64Array(n), types = new BigInt64Array(n), mask = new BigInt64Array(n);
  let s = 1234;
  for (let b = 0; b < batch; b++) {
    const len = realLength(a, b);
    for (let t = 0; t < SEQ_LEN; t++) {
      s = (s * 1103515245 + 12345) % 2147483648;
      const i = b * SEQ_LEN + t;
      ids[i] = BigInt(t >= len ? 0 : t === 0 ? 101 : t === len - 1 ? 102 : 1000 + (s % (c.vocab - 1000)));
      types[i] = BigInt(t >= SEQ_LEN / 2 ? 1 : 0);
      mask[i] = t < len ? 1n : 0n;
    }
  }
  const dims = [batch, SEQ_LEN];
  return {
    input_ids: new ort.Tensor('int64', ids, dims),
    token_type_ids: new ort.Tensor('int64', types, dims),
    attention_mask: new ort.Tensor('int64', mask, dims),
  };
}

// CPU seconds of the machine (/proc/stat, steal included: busy, total) and of this process.
function cpuSnap() {
  let v = new Array(8).fill(0);
  try {
    v = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  } catch (e) { /* unknown */ }
  const hz = 100; // USER_HZ
  const total = v.reduce((a, b) => a + b, 0);
  const u = process.cpuUsage();
  return { busy: (total - v[3] - v[4]) / hz, total: total / hz, self: (u.user + u.system) * 1e-6 };
}

// Fraction of the machine's CPU time other processes used between two snapshots.
function cpuOthers(a, b) {
  const total = b.total - a.total;
  if (total <= 0) return 0;
  return Math.min(1, Math.max(0, ((b.busy - a.busy) - (b.self - a.self)) / total));
}

function median(v) {
  const s = [...v].sort((x, y) => x - y), n = s.length;
  return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

function modelFile(a, model, prec) {
  return path.join(a.dir, prec === 'int8' ? `${model}.int8.onnx` : `${model}.onnx`);
}

function createSession(file, a) {
  return ort.InferenceSession.create(file, {
    executionProviders: ['cpu'],
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
}

// The int8 model's outputs (session s8) against the fp32 model's on the same inputs (batch: the
// largest of --batches): max |difference|, max |fp32| and the relative L2 error, per output.
// Printed only, after the timings.
async function compareInt8(model, a, s8) {
  const f32 = modelFile(a, model, 'fp32');
  if (!fs.existsSync(f32)) {
    console.log(`  int8 vs fp32: ${f32} missing: no comparison`);
    return;
  }
  const bs = Math.max(...a.batches), feeds = inputs(CONFIGS[model], a, bs);
  const s32 = await createSession(f32, a);
  const r32 = await s32.run(feeds), r8 = await s8.run(feeds);
  const parts = [], fields = [];
  for (const name of s32.outputNames) {
    const x = r32[name].data, y = r8[name].data;
    let maxd = 0, maxr = 0, d2 = 0, r2 = 0;
    for (let i = 0; i < x.length; i++) {
      const d = y[i] - x[i];
      maxd = Math.max(maxd, Math.abs(d));
      maxr = Math.max(maxr, Math.abs(x[i]));
      d2 += d * d;
      r2 += x[i] * x[i];
    }
    const rel = r2 > 0 ? Math.sqrt(d2 / r2) : 0;
    parts.push(`${name} max |diff| ${maxd.toFixed(4)} (max |fp32| ${maxr.toFixed(3)}), relative L2 error ${(100 * rel).toFixed(2)}%`);
    fields.push(`${name}_max_abs=${maxd.toFixed(5)} ${name}_rel_l2=${rel.toFixed(5)}`);
  }
  console.log(`  int8 vs fp32 (batch ${bs}, same inputs): ${parts.join('; ')}`);
  console.log(`RESULT impl=ort model=${model} precision=int8 workload=accuracy_vs_fp32 ${fields.join(' ')}`);
  await s32.release();
}

async function bench(model, prec, a) {
  const c = CONFIGS[model];
  const file = modelFile(a, model, prec);
  if (!fs.existsSync(file)) {
    console.log(`\n[${model} ${prec}] ${file} missing: skipped`);
    console.log(`RESULT impl=ort model=${model} precision=${prec} workload=all status=missing`);
    return;
  }
  const t0 = process.hrtime.bigint();
  const session = await createSession(file, a);
  const loadS = Number(process.hrtime.bigint() - t0) * 1e-9;
  const what = prec === 'int8' ? ', dynamic int8 (bench/peers/onnx_quantize.py)' : '';
  console.log(`\n[${model} ${prec}] ${c.title} in ONNX Runtime ${ort.env.versions.node}${what} (CPU EP, ${a.threads} intra-op threads; session ${loadS.toFixed(1)} s)`);
  const big = model === 'base', flops = forwardFlops(c, a.seq);
  for (const bs of a.batches) {
    const feeds = inputs(c, a, bs);
    const iters = a.iters || (big ? (bs === 1 ? (a.quick ? 3 : 10) : (a.quick ? 2 : 5)) : (bs === 1 ? (a.quick ? 10 : 50) : (a.quick ? 5 : 20)));
    const warm = (big ? 1 : 3) + (bs === 1 ? 1 : 0);
    for (let i = 0; i < warm; i++) await session.run(feeds);
    const times = [];
    const c0 = cpuSnap();
    const start = process.hrtime.bigint();
    while (times.length < iters) {
      const s = process.hrtime.bigint();
      await session.run(feeds);
      times.push(Number(process.hrtime.bigint() - s) * 1e-9);
      if (Number(process.hrtime.bigint() - start) * 1e-9 > a.budget) break;
    }
    const others = cpuOthers(c0, cpuSnap());
    const med = median(times), seqS = bs / med, gf = flops * seqS * 1e-9;
    const noisy = others >= 0.1 ? `  NOISY: other processes used ${(100 * others).toFixed(0)}% of the CPU time` : '';
    console.log(`  infer_b${bs}   ${seqS.toFixed(2).padStart(8)} seq/s  ${(med * 1e3).toFixed(1).padStart(9)} ms/batch (median of ${times.length})  ${gf.toFixed(1).padStart(6)} GFLOP/s${noisy}`);
    console.log(`RESULT impl=ort model=${model} precision=${prec} workload=infer_b${bs} seq_s=${seqS.toFixed(4)} gflops=${gf.toFixed(2)} iters=${times.length} others_cpu=${others.toFixed(3)}`);
  }
  if (prec === 'int8') {
    try {
      await compareInt8(model, a, session);
    } catch (e) {
      console.log(`  int8 vs fp32: comparison failed: ${e.message}`);
    }
  }
  await session.release();
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const models = a.model === 'all' ? ['base', 'tiny'] : [a.model];
  const start = Date.now();
  console.log(`ONNX Runtime (onnxruntime-node ${ort.env.versions.node}), node ${process.version}`);
  if (!a.precisions.length) console.log(`no ONNX Runtime run in ${a.precision} (fp32 and int8 only)`);
  for (const m of models) {
    for (const prec of a.precisions) {
      try {
        await bench(m, prec, a);
      } catch (e) {
        console.log(`  ${m} ${prec}: failed: ${e.message}`);
        console.log(`RESULT impl=ort model=${m} precision=${prec} workload=all status=error`);
      }
    }
  }
  console.log(`\nort_bert: done in ${((Date.now() - start) / 1000).toFixed(0)} s`);
}

main().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
