// The second, independent gRPC stack of the gRPC tests: Node's @grpc/grpc-js with
// @grpc/proto-loader reading src/serve/proto/grpc_service.proto at run time. Driven by
// test_serve_grpc_node.sh against a running `bert serve` (model "qa": the bertc backend with
// input_ids / attention_mask / token_type_ids INT32 [-1, -1], start/end logits FP32 out).
//   node grpc_node_client.mjs GRPC_PORT HTTP_PORT
// Exits 1 with the list of failures, 0 when every check holds.
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../node/package.json"));
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

const [grpcPort, httpPort] = process.argv.slice(2).map(Number);
const failures = [];
let checks = 0;
const check = (cond, what) => {
  checks++;
  if (!cond) failures.push(what);
  return cond;
};

const definition = protoLoader.loadSync(path.join(here, "../../src/serve/proto/grpc_service.proto"), {
  keepCase: true, longs: Number, enums: String, defaults: true,
});
const inference = grpc.loadPackageDefinition(definition).inference;
const address = `127.0.0.1:${grpcPort}`;
const client = new inference.GRPCInferenceService(address, grpc.credentials.createInsecure(), {
  "grpc.max_send_message_length": 64 << 20,
});
const call = (method, req) => new Promise((resolve, reject) => client[method](req, (err, res) => (err ? reject(err) : resolve(res))));
const codeOf = async (promise) => {
  try {
    await promise;
    return [grpc.status.OK, ""];
  } catch (e) {
    return [e.code, e.details];
  }
};

const INPUTS = ["input_ids", "attention_mask", "token_type_ids"];
let seed = 12345;
const rand = (n) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;

// B rows of L tokens: ids in [1, 500), a prefix of real tokens, type 1 on the second half.
function rows(b, l) {
  const ids = new Int32Array(b * l), mask = new Int32Array(b * l), types = new Int32Array(b * l);
  for (let r = 0; r < b; r++) {
    const real = 4 + rand(l - 3);
    for (let t = 0; t < real; t++) {
      ids[r * l + t] = 1 + rand(499);
      mask[r * l + t] = 1;
      types[r * l + t] = t >= real / 2 ? 1 : 0;
    }
  }
  return { b, l, tensors: [ids, mask, types] };
}

function grpcRequest(x, { id = "", typed = false, model = "qa" } = {}) {
  const req = { model_name: model, id, inputs: [], raw_input_contents: [] };
  x.tensors.forEach((arr, k) => {
    const input = { name: INPUTS[k], datatype: "INT32", shape: [x.b, x.l] };
    if (typed) input.contents = { int_contents: Array.from(arr) };
    else req.raw_input_contents.push(Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength));
    req.inputs.push(input);
  });
  return req;
}

function grpcOutputs(res) {
  const out = {};
  res.outputs.forEach((o, i) => {
    const raw = res.raw_output_contents[i];
    out[o.name] = { shape: o.shape.map(Number), data: Array.from(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))) };
  });
  return out;
}

async function httpOutputs(x) {
  const body = { inputs: x.tensors.map((arr, k) => ({ name: INPUTS[k], datatype: "INT32", shape: [x.b, x.l], data: Array.from(arr) })) };
  const r = await fetch(`http://127.0.0.1:${httpPort}/v2/models/qa/infer`, { method: "POST", body: JSON.stringify(body) });
  const json = await r.json();
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${JSON.stringify(json)}`);
  const out = {};
  for (const o of json.outputs) out[o.name] = { shape: o.shape, data: o.data };
  return out;
}

function same(a, b) {
  for (const name of Object.keys(b)) {
    if (!a[name] || a[name].shape.join() !== b[name].shape.join() || a[name].data.length !== b[name].data.length) return false;
    for (let i = 0; i < b[name].data.length; i++)
      if (Math.abs(a[name].data[i] - b[name].data[i]) > 1e-5 + 1e-5 * Math.abs(b[name].data[i])) return false;
  }
  return Object.keys(b).length > 0;
}

async function metadata() {
  check((await call("ServerLive", {})).live === true, "ServerLive");
  check((await call("ServerReady", {})).ready === true, "ServerReady");
  check((await call("ModelReady", { name: "qa" })).ready === true, "ModelReady qa");
  const meta = await call("ServerMetadata", {});
  check(meta.name === "bertc" && meta.extensions.includes("binary_tensor_data"), `ServerMetadata ${JSON.stringify(meta)}`);
  const mm = await call("ModelMetadata", { name: "qa" });
  check(mm.inputs.map((t) => t.name).join() === INPUTS.join() && mm.inputs[0].shape.map(Number).join() === "-1,-1",
    `ModelMetadata ${JSON.stringify(mm)}`);
  const cfg = (await call("ModelConfig", { name: "qa" })).config;
  check(cfg.name === "qa" && cfg.max_batch_size === 8 && cfg.input[0].data_type === "TYPE_INT32", `ModelConfig ${JSON.stringify(cfg)}`);
}

async function inferEqualsHttp() {
  for (const [b, l, typed] of [[1, 12, false], [3, 20, false], [2, 16, true]]) {
    const x = rows(b, l);
    const res = await call("ModelInfer", grpcRequest(x, { id: `n${b}`, typed }));
    check(res.id === `n${b}` && res.model_name === "qa", `response header ${res.id} ${res.model_name}`);
    check(same(grpcOutputs(res), await httpOutputs(x)), `b=${b} l=${l} typed=${typed}: gRPC output differs from HTTP`);
  }
}

async function errors() {
  const x = rows(1, 8);
  const cases = [
    ["unknown model", { ...grpcRequest(x), model_name: "nope" }, grpc.status.NOT_FOUND],
    ["wrong datatype", (() => { const r = grpcRequest(x); r.inputs[0].datatype = "FP32"; return r; })(), grpc.status.INVALID_ARGUMENT],
    ["wrong shape", (() => { const r = grpcRequest(x); r.inputs[1].shape = [1, 8, 1]; return r; })(), grpc.status.INVALID_ARGUMENT],
    ["oversize", (() => { const r = grpcRequest(x); r.raw_input_contents[0] = Buffer.alloc(2 << 20); return r; })(), grpc.status.RESOURCE_EXHAUSTED],
  ];
  for (const [what, req, want] of cases) {
    const [code, details] = await codeOf(call("ModelInfer", req));
    check(code === want, `${what}: status ${code} ${details}, expected ${want}`);
  }
  const raw = new grpc.Client(address, grpc.credentials.createInsecure());
  const [code] = await codeOf(new Promise((resolve, reject) =>
    raw.makeUnaryRequest("/inference.GRPCInferenceService/ModelInfer", (b) => b, (b) => b, Buffer.from([0x0a, 0xff, 0xff, 0xff]),
      (err, res) => (err ? reject(err) : resolve(res)))));
  check(code === grpc.status.INVALID_ARGUMENT, `malformed protobuf: status ${code}`);
  raw.close();
}

function streamClient(k, n) {
  return new Promise((resolve) => {
    const stream = client.ModelStreamInfer();
    const sent = new Map(), got = new Map();
    stream.on("data", (r) => got.set(r.infer_response.id, r));
    stream.on("error", (e) => { check(false, `stream ${k}: ${e.message}`); resolve({ sent, got }); });
    stream.on("end", () => resolve({ sent, got }));
    for (let i = 0; i < n; i++) {
      const x = rows(1 + rand(3), 16);
      const id = `c${k}-${i}`;
      sent.set(id, x);
      stream.write(grpcRequest(x, { id }));
    }
    stream.end();
  });
}

async function streaming() {
  const results = await Promise.all(Array.from({ length: 8 }, (_, k) => streamClient(k, 10)));
  for (const [k, { sent, got }] of results.entries()) {
    check(got.size === sent.size, `stream ${k}: ${got.size} responses for ${sent.size} requests`);
    for (const [id, x] of [...sent].filter((_, i) => i % 4 === 0)) {
      const r = got.get(id);
      if (!check(r && !r.error_message, `stream ${k}: ${id} missing or failed ${r && r.error_message}`)) continue;
      check(same(grpcOutputs(r.infer_response), await httpOutputs(x)), `stream ${k}: ${id} differs from HTTP`);
    }
  }
}

async function vanishing() {
  // a stream cancelled by its client while requests are in flight
  const stream = client.ModelStreamInfer();
  let seen = 0;
  await new Promise((resolve) => {
    stream.on("data", () => {
      if (++seen === 3) { stream.cancel(); resolve(); }
    });
    stream.on("error", () => resolve());
    for (let i = 0; i < 20; i++) stream.write(grpcRequest(rows(2, 16), { id: `v${i}` }));
  });
  check(seen >= 3, `cancelled stream saw ${seen} responses`);
  const res = await call("ModelInfer", grpcRequest(rows(1, 8), { id: "after" }));
  check(res.id === "after", "the server answers after a client vanished");
}

try {
  await metadata();
  await inferEqualsHttp();
  await errors();
  await streaming();
  await vanishing();
} catch (e) {
  failures.push(`unexpected error: ${e.stack || e}`);
}
client.close();
for (const f of failures.slice(0, 40)) console.log("FAIL:", f);
console.log(`grpc_node_client: ${checks} checks, ${failures.length} failures`);
process.exit(failures.length || checks < 30 ? 1 : 0);
