// ONNX Runtime peer of bench/model.c: inference of the PyTorch peer's BERT (encoder + pooler,
// exported by `torch_bert.py --export-onnx DIR` as DIR/<model>.onnx, fp32) on the CPU execution
// provider with intraOpNumThreads = N, at batch 1 and 8, sequence 128.
//   node bench/peers/ort_bert.js --dir DIR [--threads N] [--model base|tiny|all] [--quick]
//                                [--iters N] [--budget S] [--seq L] [--batches 1,8] [--padded]
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
    seq: 128, batches: [1, 8], padded: false };
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
    else if (k === '--precision') i++; // fp32 only: accepted for symmetry with the other benches
    else throw new Error(`ort_bert.js: unknown option ${k}`);
  }
  if (!a.dir) throw new Error('ort_bert.js: --dir DIR (where torch_bert.py --export-onnx wrote the models) is required');
  if (a.budget < 0) a.budget = a.quick ? 12 : 40;
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

async function bench(model, a) {
  const c = CONFIGS[model];
  const file = path.join(a.dir, `${model}.onnx`);
  if (!fs.existsSync(file)) {
    console.log(`\n[${model} fp32] ${file} missing: skipped`);
    console.log(`RESULT impl=ort model=${model} precision=fp32 workload=all status=missing`);
    return;
  }
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(file, {
    executionProviders: ['cpu'],
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const loadS = Number(process.hrtime.bigint() - t0) * 1e-9;
  console.log(`\n[${model} fp32] ${c.title} in ONNX Runtime ${ort.env.versions.node} (CPU EP, ${a.threads} intra-op threads; session ${loadS.toFixed(1)} s)`);
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
    console.log(`RESULT impl=ort model=${model} precision=fp32 workload=infer_b${bs} seq_s=${seqS.toFixed(4)} gflops=${gf.toFixed(2)} iters=${times.length} others_cpu=${others.toFixed(3)}`);
  }
  await session.release();
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const models = a.model === 'all' ? ['base', 'tiny'] : [a.model];
  const start = Date.now();
  console.log(`ONNX Runtime (onnxruntime-node ${ort.env.versions.node}), node ${process.version}`);
  for (const m of models) {
    try {
      await bench(m, a);
    } catch (e) {
      console.log(`  ${m}: failed: ${e.message}`);
      console.log(`RESULT impl=ort model=${m} precision=fp32 workload=all status=error`);
    }
  }
  console.log(`\nort_bert: done in ${((Date.now() - start) / 1000).toFixed(0)} s`);
}

main().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
