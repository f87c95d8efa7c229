// bench/peers/hf_tokenizer.js: HuggingFace's Rust tokenizer (npm `tokenizers`, its node bindings)
// on the same lines as bench/tokenizer.c, set up as BertTokenizerFast for an uncased vocabulary:
// BertNormalizer(clean_text, handle_chinese_chars, lowercase, strip_accents follows lowercase),
// BertPreTokenizer, WordPiece(max_input_chars_per_word=100), no [CLS]/[SEP].
//
//   node bench/peers/hf_tokenizer.js --vocab data/vocab.txt --corpus FILE [--mb 20]
//        [--repeats 3] [--batch 1024] [--dump-ids FILE]
//
// Threads: the Rust side parallelises encodeBatch with rayon; run with TOKENIZERS_PARALLELISM=false
// RAYON_NUM_THREADS=1 for a single thread. Lines are encoded in batches of --batch with
// encodeBatch (the fast path; one call per line would mostly measure node's async overhead).
// The timed work is encodeBatch itself, returning the encodings to JavaScript; reading their ids
// out is not timed. Output lines starting with "RESULT " are the figures.
'use strict';

const fs = require('fs');
const path = require('path');

const tokenizers = require(require.resolve('tokenizers', { paths: [path.join(__dirname, 'hf_tokenizer')] }));

function parseArgs(argv) {
  const args = { vocab: 'data/vocab.txt', corpus: null, mb: 20, repeats: 3, batch: 1024, dumpIds: null };
  const names = { '--vocab': 'vocab', '--corpus': 'corpus', '--mb': 'mb', '--repeats': 'repeats',
                  '--batch': 'batch', '--dump-ids': 'dumpIds' };
  for (let i = 2; i < argv.length; i += 2) {
    const key = names[argv[i]];
    if (!key || i + 1 >= argv.length) throw new Error(`unknown or incomplete option ${argv[i]}`);
    args[key] = ['mb', 'repeats', 'batch'].includes(key) ? Number(argv[i + 1]) : argv[i + 1];
  }
  if (!args.corpus) throw new Error('--corpus FILE is required');
  return args;
}

// The same selection as bench/tokenizer.c: non-empty lines other than <doc ...> and </doc>.
function corpusLines(file) {
  return fs.readFileSync(file, 'utf8').split('\n')
    .filter((l) => l.length > 0 && !l.startsWith('<doc ') && l !== '</doc>');
}

async function makeTokenizer(vocab) {
  const model = await tokenizers.WordPiece.fromFile(vocab, { unkToken: '[UNK]', maxInputCharsPerWord: 100 });
  const tok = new tokenizers.Tokenizer(model);
  tok.setNormalizer(tokenizers.bertNormalizer({ cleanText: true, handleChineseChars: true, lowercase: true }));
  tok.setPreTokenizer(tokenizers.bertPreTokenizer());
  return tok;
}

// Encodes the lines in batches; keep(encodings) sees each batch's results, which are otherwise
// dropped at once (holding 20 MB worth of encodings would take gigabytes).
async function pass(tok, lines, batch, keep = null) {
  for (let i = 0; i < lines.length; i += batch) {
    const encs = await tok.encodeBatch(lines.slice(i, i + batch), { addSpecialTokens: false });
    if (keep) keep(encs);
  }
}

async function main() {
  const args = parseArgs(process.argv);
  const tok = await makeTokenizer(args.vocab);
  const base = corpusLines(args.corpus);
  const baseBytes = base.reduce((n, l) => n + Buffer.byteLength(l, 'utf8'), 0);
  const copies = Math.floor((args.mb * 1e6) / (baseBytes + base.length)) + 1;
  const lines = [];
  for (let k = 0; k < copies; k++) lines.push(...base);
  const bytes = baseBytes * copies;
  const threads = process.env.RAYON_NUM_THREADS || 'default';
  console.log(`corpus: ${args.corpus}, ${lines.length} lines (${base.length} distinct), ${(bytes / 1e6).toFixed(1)} MB; ` +
              `tokenizers ${require(require.resolve('tokenizers/package.json', { paths: [path.join(__dirname, 'hf_tokenizer')] })).version}`);

  // Warm-up on one copy, which also counts the tokens and gives the ids to compare.
  const ids = [];
  let baseTokens = 0;
  await pass(tok, base, args.batch, (encs) => {
    for (const e of encs) {
      baseTokens += e.getLength();
      if (args.dumpIds) ids.push(e.getIds().join(' '));
    }
  });
  if (args.dumpIds) fs.writeFileSync(args.dumpIds, ids.join('\n') + '\n');
  const tokens = baseTokens * copies;
  let best = Infinity;
  for (let r = 0; r < args.repeats; r++) {
    const t0 = process.hrtime.bigint();
    await pass(tok, lines, args.batch);
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    if (dt < best) best = dt;
  }
  console.log(`RESULT hf threads=${threads} MB/s=${(bytes / best / 1e6).toFixed(1)} ` +
              `Mtokens/s=${(tokens / best / 1e6).toFixed(2)} seconds=${best.toFixed(3)} tokens=${tokens}`);
}

main().catch((e) => {
  console.error(`hf_tokenizer: ${e.message}`);
  process.exit(1);
});
