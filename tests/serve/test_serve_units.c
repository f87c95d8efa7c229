/* serve units: protobuf text parsing (syntax forms, escapes, errors with line:column), the
 * config.pbtxt subset (defaults, checks, Triton JSON and back), first-fit-decreasing row packing,
 * the v2 request codec (binary and JSON tensors, the raw binary request, every class of error,
 * "outputs": [] as all outputs), the JSON header size bound, preserve_ordering with instances,
 * the response encoder (numbers and BYTES, JSON and binary), a batcher's stop (queued requests
 * run, later ones refused, the batcher valid until freed), quantiles and client URLs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "serve/batcher.h"
#include "serve/bench_client.h"
#include "serve/http_client.h"
#include "serve/infer_request.h"
#include "serve/model_config.h"
#include "serve/pbtxt.h"
#include "serve/row_pack.h"
#include "test_util.h"

static void test_pbtxt(void) {
  const char *text =
      "# comment\n"
      "name: \"a\\tb\\x41\\101\" 'c'\n"
      "max_batch_size: 8, flag: true; ratio: -1.5e-3\n"
      "input [ { name: \"x\" dims: [ -1, 4 ] }, < name: 'y' > ]\n"
      "dynamic_batching: { preferred_batch_size: [4, 8] }\n"
      "dynamic_batching { }\n";
  bert_pbtxt_node root;
  bert_error err = {0};
  CHECK(bert_pbtxt_parse(text, strlen(text), "t.pbtxt", &root, &err) == 0);
  CHECK(bert_pbtxt_count(&root, "input") == 2 && bert_pbtxt_count(&root, "dynamic_batching") == 2);
  const bert_pbtxt_node *name = bert_pbtxt_get(&root, "name", 0);
  CHECK(name && name->kind == BERT_PBTXT_STRING && !strcmp(name->value, "a\tbAAc"));
  const bert_pbtxt_node *flag = bert_pbtxt_get(&root, "flag", 0), *ratio = bert_pbtxt_get(&root, "ratio", 0);
  CHECK(flag && flag->kind == BERT_PBTXT_IDENT && !strcmp(flag->value, "true"));
  CHECK(ratio && ratio->kind == BERT_PBTXT_NUMBER && !strcmp(ratio->value, "-1.5e-3"));
  const bert_pbtxt_node *x = bert_pbtxt_get(&root, "input", 0);
  CHECK(x && x->kind == BERT_PBTXT_MESSAGE && bert_pbtxt_count(x, "dims") == 2);
  CHECK(!strcmp(bert_pbtxt_get(x, "dims", 0)->value, "-1") && bert_pbtxt_get(&root, "input", 1)->line == 4);
  CHECK(bert_pbtxt_count(bert_pbtxt_get(&root, "dynamic_batching", 0), "preferred_batch_size") == 2);
  bert_pbtxt_free(&root);

  static const struct { const char *text, *where; } bad[] = {
      {"name: \"open\n", "t:1:"},       {"a { b: 1\n", "t:2:"},          {"a: }", "t:1:4"},
      {"a: [1, 2", "t:1:"},             {"a 1", "t:1:3"},                {"x: \"\\q\"", "t:1:"},
      {"a: -", "t:1:"},                 {"}", "t:1:1"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    memset(&err, 0, sizeof err);
    CHECK_MSG(bert_pbtxt_parse(bad[i].text, strlen(bad[i].text), "t", &root, &err) == BERT_EFORMAT, "%s", bad[i].text);
    CHECK_MSG(strstr(err.message, bad[i].where) != NULL, "'%s' -> %s", bad[i].text, err.message);
  }
  /* nesting is bounded, not recursive without end */
  char deep[400];
  memset(deep, 0, sizeof deep);
  for (int i = 0; i < 70; i++) strcat(deep, "a{");
  CHECK(bert_pbtxt_parse(deep, strlen(deep), "t", &root, &err) == BERT_EFORMAT && strstr(err.message, "deeply"));
}

static const char *good_config =
    "name: \"bert\"\nbackend: \"bertc\"\nmax_batch_size: 32\n"
    "dynamic_batching { preferred_batch_size: [ 4, 8 ] max_queue_delay_microseconds: 100 preserve_ordering: false }\n"
    "input [ { name: \"input_0\" data_type: TYPE_INT32 dims: [ 384 ] },\n"
    "        { name: \"input_1\" data_type: TYPE_INT64 dims: [ -1 ] optional: true } ]\n"
    "output [ { name: \"output_0\" data_type: TYPE_FP16 dims: [ 384 ] } ]\n"
    "instance_group [ { kind: KIND_CPU count: 2 }, { count: 1 } ]\n"
    "parameters { key: \"a\" value: { string_value: \"1\" } }\n"
    "parameters { key: \"a\" value: { string_value: \"2\" } }\n"
    "version_policy: { latest { num_versions: 1 } }\n";

static void test_model_config(void) {
  bert_serve_model_config cfg;
  bert_error err = {0};
  CHECK(bert_serve_model_config_parse(&cfg, good_config, strlen(good_config), "c.pbtxt", "bert", &err) == 0);
  CHECK(cfg.max_batch_size == 32 && cfg.dynamic_batching && cfg.n_preferred == 2 && cfg.preferred[1] == 8);
  CHECK(cfg.max_queue_delay_us == 100 && !cfg.preserve_ordering && cfg.instance_count == 3);
  CHECK(cfg.n_inputs == 2 && cfg.inputs[1].dtype == BERT_SERVE_INT64 && cfg.inputs[1].optional && cfg.inputs[1].dims[0] == -1);
  CHECK(cfg.outputs[0].dtype == BERT_SERVE_FP16 && !strcmp(bert_serve_model_config_param(&cfg, "a"), "2"));
  CHECK(strstr(cfg.warnings.data, "c.pbtxt:11: version_policy is not used") != NULL);
  char *json = bert_serve_model_config_json(&cfg);
  CHECK(json && strstr(json, "\"dims\":[384]") && strstr(json, "\"data_type\":\"TYPE_FP16\"") &&
        strstr(json, "\"preferred_batch_size\":[4,8]") && strstr(json, "\"a\":{\"string_value\":\"2\"}"));
  bert_serve_model_config back;
  CHECK(json && bert_serve_model_config_from_json(&back, json, strlen(json), &err) == 0);
  CHECK(back.max_batch_size == 32 && back.n_inputs == 2 && back.inputs[1].dims[0] == -1 && !strcmp(back.backend, "bertc"));
  bert_serve_model_config_free(&back);
  const char *string_dims = "{\"name\":\"m\",\"max_batch_size\":\"4\",\"input\":[{\"name\":\"i\",\"data_type\":\"TYPE_INT32\",\"dims\":[\"-1\"]}],"
                            "\"output\":[{\"name\":\"o\",\"data_type\":\"TYPE_FP32\",\"dims\":[\"7\"]}]}";
  CHECK(bert_serve_model_config_from_json(&back, string_dims, strlen(string_dims), &err) == 0 && back.max_batch_size == 4 &&
        back.outputs[0].dims[0] == 7);
  bert_serve_model_config_free(&back);
  free(json);
  bert_serve_model_config_free(&cfg);

  const char *minimal = "backend: \"bertc\" input { name: \"i\" data_type: TYPE_INT32 dims: 8 } output { name: \"o\" data_type: TYPE_FP32 dims: 8 }";
  CHECK(bert_serve_model_config_parse(&cfg, minimal, strlen(minimal), "m", "dir", &err) == 0);
  CHECK(!strcmp(cfg.name, "dir") && cfg.max_batch_size == 0 && cfg.instance_count == 1 && !cfg.dynamic_batching);
  bert_serve_model_config_free(&cfg);
  /* preserve_ordering holds with one instance (batches are queue prefixes run one at a time) */
  const char *ordered = "backend: \"bertc\" max_batch_size: 2 dynamic_batching { preserve_ordering: true } instance_group { count: 1 }\n"
                        "input { name: \"i\" data_type: TYPE_INT32 dims: 8 } output { name: \"o\" data_type: TYPE_FP32 dims: 8 }";
  CHECK(bert_serve_model_config_parse(&cfg, ordered, strlen(ordered), "m", "dir", &err) == 0 && cfg.preserve_ordering);
  bert_serve_model_config_free(&cfg);

  static const struct { const char *text, *msg; } bad[] = {
      {"name: \"other\" backend: \"bertc\" input { name: \"i\" data_type: TYPE_INT32 dims: 8 } output { name: \"o\" data_type: TYPE_FP32 dims: 8 }", "differs from the model's folder"},
      {"backend: \"bertc\" input { name: \"i\" data_type: TYPE_FLOAT dims: 8 } output { name: \"o\" data_type: TYPE_FP32 dims: 8 }", "TYPE_FLOAT"},
      {"backend: \"bertc\" input { name: \"i\" data_type: TYPE_INT32 dims: 0 } output { name: \"o\" data_type: TYPE_FP32 dims: 8 }", "dimension of 0"},
      {"backend: \"bertc\" input { name: \"i\" data_type: TYPE_INT32 } output { name: \"o\" data_type: TYPE_FP32 dims: 8 }", "has no dims"},
      {"backend: \"bertc\" output { name: \"o\" data_type: TYPE_FP32 dims: 8 }", "no input"},
      {"input { name: \"i\" data_type: TYPE_INT32 dims: 8 } output { name: \"o\" data_type: TYPE_FP32 dims: 8 }", "neither backend"},
      {"backend: \"bertc\" max_batch_size: 2 dynamic_batching { preferred_batch_size: 4 } input { name: \"i\" data_type: TYPE_INT32 dims: 8 } output { name: \"o\" data_type: TYPE_FP32 dims: 8 }", "exceeds max_batch_size"},
      {"backend: \"bertc\" instance_group { kind: KIND_GPU } input { name: \"i\" data_type: TYPE_INT32 dims: 8 } output { name: \"o\" data_type: TYPE_FP32 dims: 8 }", "KIND_GPU"},
      {"backend: \"bertc\" sequence_batching { } input { name: \"i\" data_type: TYPE_INT32 dims: 8 } output { name: \"o\" data_type: TYPE_FP32 dims: 8 }", "sequence_batching is not supported"},
      {"backend: \"bertc\" max_batch_size: \"8\" input { name: \"i\" data_type: TYPE_INT32 dims: 8 } output { name: \"o\" data_type: TYPE_FP32 dims: 8 }", "must be an integer"},
      {"backend: \"bertc\" input { name: \"i\" data_type: TYPE_INT32 dims: 8 } input { name: \"i\" data_type: TYPE_INT32 dims: 8 } output { name: \"o\" data_type: TYPE_FP32 dims: 8 }", "two tensors"},
      {"backend: \"bertc\" parameters { key: \"a\" } input { name: \"i\" data_type: TYPE_INT32 dims: 8 } output { name: \"o\" data_type: TYPE_FP32 dims: 8 }", "string_value"},
      /* instances finish in any order: preserve_ordering cannot hold (Triton would hold replies back) */
      {"backend: \"bertc\" max_batch_size: 2\ndynamic_batching { preserve_ordering: true }\ninstance_group [ { count: 1 }, { count: 1 } ] input { name: \"i\" data_type: TYPE_INT32 dims: 8 } output { name: \"o\" data_type: TYPE_FP32 dims: 8 }",
       "b.pbtxt:2: preserve_ordering needs a single instance"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    memset(&err, 0, sizeof err);
    CHECK_MSG(bert_serve_model_config_parse(&cfg, bad[i].text, strlen(bad[i].text), "b.pbtxt", "dir", &err) != 0, "%s", bad[i].msg);
    CHECK_MSG(strstr(err.message, bad[i].msg) && strstr(err.message, "b.pbtxt"), "%s -> %s", bad[i].msg, err.message);
  }
}

static void test_row_pack(void) {
  int len[] = {300, 20, 100, 384, 60, 0, 250, 84}, n = 8, scratch[16], bin[8], offset[8], fill;
  int bins = bert_serve_pack_rows(len, n, 384, scratch, bin, offset, &fill);
  CHECK(bins == 4 && fill == 384);
  int used[8] = {0};
  for (int i = 0; i < n; i++) {
    CHECK(bin[i] >= 0 && bin[i] < bins && offset[i] >= 0 && offset[i] + len[i] <= 384);
    used[bin[i]] += len[i];
  }
  for (int b = 0; b < bins; b++) CHECK(used[b] <= 384);
  /* rows in one bin never overlap */
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++)
      if (i != j && bin[i] == bin[j] && len[i] && len[j])
        CHECK(offset[i] + len[i] <= offset[j] || offset[j] + len[j] <= offset[i]);
  int one[] = {7};
  CHECK(bert_serve_pack_rows(one, 1, 384, scratch, bin, offset, &fill) == 1 && fill == 7 && offset[0] == 0);
}

/* ---- the request codec ---- */

static bert_serve_model_config qa_config(void) {
  const char *text = "backend: \"bertc\" max_batch_size: 4\n"
                     "input [ { name: \"ids\" data_type: TYPE_INT32 dims: [ -1 ] }, { name: \"f\" data_type: TYPE_FP16 dims: [ 2 ] optional: true },\n"
                     "        { name: \"s\" data_type: TYPE_STRING dims: [ 1 ] optional: true } ]\n"
                     "output [ { name: \"o\" data_type: TYPE_FP32 dims: [ -1 ] }, { name: \"t\" data_type: TYPE_STRING dims: [ 1 ] } ]\n";
  bert_serve_model_config cfg;
  bert_error err = {0};
  if (bert_serve_model_config_parse(&cfg, text, strlen(text), "q", "q", &err)) fprintf(stderr, "%s\n", err.message);
  return cfg;
}

static int parse(const bert_serve_model_config *cfg, const char *json, const void *bin, size_t bin_len, int64_t header_len,
                 bert_serve_request **r, bert_error *err) {
  size_t n = strlen(json);
  char *body = malloc(n + bin_len + 1);
  memcpy(body, json, n);
  if (bin_len) memcpy(body + n, bin, bin_len);
  return bert_serve_request_parse(r, cfg, body, n + bin_len, header_len == -2 ? (int64_t)n : header_len, err);
}

static void test_request(void) {
  bert_serve_model_config cfg = qa_config();
  bert_serve_request *r;
  bert_error err = {0};
  /* JSON tensors, nested data, an FP16 and a BYTES input, one output requested as binary */
  const char *json = "{\"id\":\"a\\\"b\",\"inputs\":[{\"name\":\"ids\",\"shape\":[2,3],\"datatype\":\"INT32\",\"data\":[[1,2,3],[4,5,6]]},"
                     "{\"name\":\"f\",\"shape\":[2,2],\"datatype\":\"FP16\",\"data\":[0.5,-2,1,65504]},"
                     "{\"name\":\"s\",\"shape\":[2,1],\"datatype\":\"BYTES\",\"data\":[\"hi\",\"\"]}],"
                     "\"outputs\":[{\"name\":\"o\",\"parameters\":{\"binary_data\":true}}]}";
  CHECK(parse(&cfg, json, NULL, 0, -1, &r, &err) == 0);
  if (r) {
    CHECK(r->batch == 2 && !strcmp(r->id, "a\"b") && r->n_outputs == 1 && r->outputs[0].binary);
    CHECK(bert_serve_tensor_int(&r->inputs[0], 5) == 6 && r->inputs[1].bytes == 8 && ((uint16_t *)r->inputs[1].data)[0] == 0x3800);
    uint32_t l;
    CHECK(bert_serve_bytes_element(r->inputs[2].data, 0, &l) && l == 2 && r->inputs[2].bytes == 10);
    CHECK(bert_serve_request_output(r, 0) != NULL && bert_serve_request_output(r, 1) == NULL);
    /* encode: a binary output after the JSON header */
    int64_t shape[2] = {2, 3};
    bert_serve_tensor *o = bert_serve_request_output(r, 0);
    bert_serve_tensor_alloc(o, "o", BERT_SERVE_FP32, 2, shape, &err);
    ((float *)o->data)[5] = 1.5f;
    bert_strbuf out = {0};
    size_t hl;
    CHECK(bert_serve_response_encode(r, "q", "1", &out, &hl, &err) == 0);
    CHECK(hl > 0 && out.len == hl + 24 && strstr(out.data, "\"id\":\"a\\\"b\"") && strstr(out.data, "\"binary_data_size\":24"));
    float last;
    memcpy(&last, out.data + hl + 20, 4);
    CHECK(last == 1.5f);
    r->outputs[0].binary = 0;
    CHECK(bert_serve_response_encode(r, "q", "1", &out, &hl, &err) == 0 && hl == 0 && strstr(out.data, "\"data\":[0,0,0,0,0,1.5]"));
    /* a BYTES output (what a text model answers), as JSON strings and as binary */
    r->n_outputs = 2, r->outputs[1].index = 1, r->outputs[1].binary = 0;
    const char *words[2] = {"an \"answer\"", ""};
    const uint32_t lens[2] = {11, 0};
    int64_t two[2] = {2, 1};
    CHECK(bert_serve_tensor_set_bytes(&r->outputs[1].tensor, "t", 2, two, words, lens, &err) == 0);
    CHECK(r->outputs[1].tensor.bytes == 19 && bert_serve_bytes_check(r->outputs[1].tensor.data, 19, 2, &err) == 0);
    CHECK(bert_serve_response_encode(r, "q", "1", &out, &hl, &err) == 0 && strstr(out.data, "\"data\":[\"an \\\"answer\\\"\",\"\"]"));
    r->outputs[1].binary = 1;
    CHECK(bert_serve_response_encode(r, "q", "1", &out, &hl, &err) == 0 && hl && out.len == hl + 19 &&
          !memcmp(out.data + hl, "\13\0\0\0an \"answer\"\0\0\0\0", 19));
    bert_strbuf_free(&out);
    bert_serve_request_free(r);
  }
  /* binary tensors after the header; no outputs named -> all, binary per binary_data_output */
  int32_t ids[4] = {7, 8, 9, 10};
  const char *bjson = "{\"inputs\":[{\"name\":\"ids\",\"shape\":[1,4],\"datatype\":\"INT32\",\"parameters\":{\"binary_data_size\":16}},"
                      "{\"name\":\"s\",\"shape\":[1,1],\"datatype\":\"BYTES\",\"parameters\":{\"binary_data_size\":7}}],"
                      "\"parameters\":{\"binary_data_output\":true}}";
  unsigned char bin[23];
  memcpy(bin, ids, 16);
  memcpy(bin + 16, "\3\0\0\0abc", 7);
  CHECK(parse(&cfg, bjson, bin, sizeof bin, -2, &r, &err) == 0);
  if (r) {
    CHECK(r->batch == 1 && bert_serve_tensor_int(&r->inputs[0], 3) == 10 && !r->inputs[0].owned && r->inputs[2].dtype && !r->inputs[1].dtype);
    CHECK(r->n_outputs == 2 && r->outputs[0].binary && r->outputs[1].binary && !r->inputs[2].owned);
    bert_serve_request_free(r);
  }
  /* "outputs": [] asks for every output, as in Triton (not for none) */
  const char *all = "{\"inputs\":[{\"name\":\"ids\",\"shape\":[1,2],\"datatype\":\"INT32\",\"data\":[1,2]}],\"outputs\":[]}";
  CHECK(parse(&cfg, all, NULL, 0, -1, &r, &err) == 0);
  if (r) {
    CHECK(r->n_outputs == 2 && bert_serve_request_output(r, 0) && bert_serve_request_output(r, 1));
    bert_serve_request_free(r);
  }
  /* errors, each with its message */
  static const struct { const char *json; int64_t header_len; size_t bin; const char *msg; } bad[] = {
      {"{\"inputs\":[{\"name\":\"ids\",\"shape\":[5,1],\"datatype\":\"INT32\",\"data\":[1,2,3,4,5]}]}", -1, 0, "max_batch_size"},
      {"{\"inputs\":[{\"name\":\"ids\",\"shape\":[1,2],\"datatype\":\"INT64\",\"data\":[1,2]}]}", -1, 0, "expects INT32"},
      {"{\"inputs\":[{\"name\":\"ids\",\"shape\":[1,2],\"datatype\":\"INT32\",\"data\":[1,2.5]}]}", -1, 0, "not a valid INT32"},
      {"{\"inputs\":[{\"name\":\"ids\",\"shape\":[1,2],\"datatype\":\"INT32\",\"data\":[1,3000000000]}]}", -1, 0, "not a valid INT32"},
      {"{\"inputs\":[{\"name\":\"f\",\"shape\":[1,3],\"datatype\":\"FP16\",\"data\":[1,2,3]}]}", -1, 0, "expected [-1,2]"},
      {"{\"inputs\":[{\"name\":\"f\",\"shape\":[1,2],\"datatype\":\"FP16\",\"data\":[1,2]}]}", -1, 0, "'ids' for model 'q' is missing"},
      {"{\"inputs\":[{\"name\":\"ids\",\"shape\":[1,2],\"datatype\":\"INT32\",\"data\":[1,2]}],\"outputs\":[{\"name\":\"zz\"}]}", -1, 0, "output 'zz'"},
      {"{\"inputs\":[{\"name\":\"ids\",\"shape\":[1,2],\"datatype\":\"INT32\",\"parameters\":{\"binary_data_size\":8}}]}", -2, 4, "runs past"},
      {"{\"inputs\":[{\"name\":\"ids\",\"shape\":[1,2],\"datatype\":\"INT32\",\"parameters\":{\"binary_data_size\":8}}]}", 999, 8, "exceeds the body"},
      {"{\"inputs\":[{\"name\":\"s\",\"shape\":[1,1],\"datatype\":\"BYTES\",\"parameters\":{\"binary_data_size\":6}}]}", -2, 6, "length 3 runs past"},
      {"{\"inputs\":[{\"name\":\"ids\",\"shape\":[1,2],\"datatype\":\"INT32\",\"data\":[1,2]}]}", 0, 0, "raw binary request"},
      {"{\"inputs\":[{\"name\":\"ids\",\"shape\":[1,2],\"datatype\":\"INT32\",\"data\":[1,2]}]} x", -1, 0, "unexpected bytes after"},
      {"[1]", -1, 0, "must be a JSON object"},
  };
  unsigned char payload[8] = {3, 0, 0, 0, 'a', 'b', 0, 0};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    memset(&err, 0, sizeof err);
    r = NULL;
    CHECK_MSG(parse(&cfg, bad[i].json, payload, bad[i].bin, bad[i].header_len, &r, &err) != 0 && !r, "%s", bad[i].msg);
    CHECK_MSG(strstr(err.message, bad[i].msg) != NULL, "%s -> %s", bad[i].msg, err.message);
  }
  bert_serve_model_config_free(&cfg);
}

/* The bound of a JSON header: fixed dims, a variable one at the backend's bound or a fixed cap,
 * BYTES (any length, so only the count of values is bounded); commas inside strings are no values. */
static void test_json_limit(void) {
  const char *text = "backend: \"bertc\" max_batch_size: 4\n"
                     "input [ { name: \"ids\" data_type: TYPE_INT32 dims: [ -1 ] }, { name: \"f\" data_type: TYPE_FP16 dims: [ 2 ] } ]\n"
                     "output [ { name: \"o\" data_type: TYPE_FP32 dims: [ -1 ] } ]\n";
  bert_serve_model_config cfg;
  bert_error err = {0};
  CHECK(bert_serve_model_config_parse(&cfg, text, strlen(text), "j", "j", &err) == 0);
  bert_serve_json_limit lim, capped;
  bert_serve_json_limit_init(&lim, &cfg, 128);
  bert_serve_json_limit_init(&capped, &cfg, 0);
  size_t elements = 4 * 128 + 4 * 2;
  CHECK(lim.bytes >= elements * 24 && lim.bytes < elements * 40 + 128 * 1024 && capped.bytes > lim.bytes);
  CHECK(lim.values >= (int64_t)elements && lim.values < 8 * (int64_t)elements);
  /* the longest valid request (every id 10 digits) passes */
  bert_strbuf s = {0};
  bert_strbuf_puts(&s, "{\"id\":\"x\",\"inputs\":[{\"name\":\"ids\",\"shape\":[4,128],\"datatype\":\"INT32\",\"data\":[");
  for (int i = 0; i < 512; i++) bert_strbuf_puts(&s, i ? ", -2147483647" : "-2147483647");
  bert_strbuf_puts(&s, "]},{\"name\":\"f\",\"shape\":[4,2],\"datatype\":\"FP16\",\"data\":[[-1.2345678901234567e-05,1],[1,1],[1,1],[1,1]]}]}");
  CHECK(bert_serve_json_limit_check(&lim, "m", s.data, s.len, &err) == 0);
  /* longer than that can be: refused by length */
  char *spaces = malloc(lim.bytes + 1);
  memset(spaces, ' ', lim.bytes + 1);
  CHECK(bert_serve_json_limit_check(&lim, "m", spaces, lim.bytes, &err) == 0);
  CHECK(bert_serve_json_limit_check(&lim, "m", spaces, lim.bytes + 1, &err) == BERT_ERANGE &&
        strstr(err.message, "longer than any valid request for model 'm'"));
  free(spaces);
  /* short values past the count: refused though short; the same commas inside a string pass */
  bert_strbuf_clear(&s);
  bert_strbuf_puts(&s, "[0");
  for (int64_t i = 0; i < lim.values; i++) bert_strbuf_puts(&s, ",0");
  bert_strbuf_puts(&s, "]");
  CHECK(s.len < lim.bytes && bert_serve_json_limit_check(&lim, "m", s.data, s.len, &err) == BERT_ERANGE &&
        strstr(err.message, "more values"));
  s.data[0] = '"', s.data[1] = '\\', s.data[2] = '"', s.data[s.len - 1] = '"'; /* one string: "\"0,0,...,0" */
  CHECK(bert_serve_json_limit_check(&lim, "m", s.data, s.len, &err) == 0);
  bert_strbuf_free(&s);
  bert_serve_model_config_free(&cfg);
  /* a BYTES input: any length, a bounded count */
  cfg = qa_config();
  bert_serve_json_limit_init(&lim, &cfg, 64);
  CHECK(lim.bytes == SIZE_MAX && lim.values > 4 * 64 && lim.values < 100000);
  bert_serve_model_config_free(&cfg);
}

/* ---- the batcher's stop ---- */

static int fake_instance_create(void *model, void **instance, bert_error *err) {
  (void)model, (void)err;
  *instance = NULL;
  return BERT_OK;
}

static void fake_instance_free(void *instance) { (void)instance; }

static int fake_execute(void *instance, bert_serve_request **reqs, int n, bert_serve_exec_info *info, bert_error *err) {
  (void)instance, (void)reqs, (void)n, (void)info, (void)err;
  return BERT_OK;
}

static void count_done(bert_serve_request *r, void *arg) {
  (void)r;
  ++*(int *)arg;
}

/* A stopped batcher runs what was queued, then refuses (an HTTP thread that submits late gets
 * the shutdown error, a 503) and stays valid until it is freed. */
static void test_batcher_stop(void) {
  const char *text = "backend: \"x\" max_batch_size: 4 dynamic_batching { max_queue_delay_microseconds: 60000000 }\n"
                     "input { name: \"i\" data_type: TYPE_INT32 dims: 8 } output { name: \"o\" data_type: TYPE_FP32 dims: 8 }";
  bert_serve_model_config cfg;
  bert_serve_stats stats;
  bert_error err = {0};
  CHECK(bert_serve_model_config_parse(&cfg, text, strlen(text), "b", "b", &err) == 0);
  CHECK(bert_serve_stats_init(&stats, cfg.max_batch_size, &err) == 0);
  bert_serve_backend fake = {.name = "x", .instance_create = fake_instance_create, .instance_free = fake_instance_free,
                             .execute = fake_execute};
  bert_serve_batcher_options opt = {&cfg, &fake, NULL, &stats, 1};
  bert_serve_batcher *b;
  CHECK(bert_serve_batcher_start(&b, &opt, &err) == 0);
  int done = 0;
  bert_serve_request reqs[4];
  memset(reqs, 0, sizeof reqs);
  for (int i = 0; i < 4; i++) reqs[i].batch = 1, reqs[i].done = count_done, reqs[i].done_arg = &done;
  for (int i = 0; i < 3; i++) CHECK(bert_serve_batcher_submit(b, &reqs[i], &err) == 0);
  bert_serve_batcher_stop(b); /* the 60 s queue delay does not hold a stop */
  CHECK(done == 3 && stats.pending == 0);
  memset(&err, 0, sizeof err);
  CHECK(bert_serve_batcher_submit(b, &reqs[3], &err) == BERT_EUNSUPPORTED && strstr(err.message, "shutting down"));
  bert_serve_batcher_flush(b);
  bert_serve_batcher_stop(b);
  CHECK(done == 3);
  bert_serve_batcher_free(b);
  bert_serve_stats_free(&stats);
  bert_serve_model_config_free(&cfg);
}

static void test_url(void) {
  char host[64];
  int port;
  bert_error err = {0};
  CHECK(bert_serve_parse_url("127.0.0.1:8001", host, sizeof host, &port, &err) == 0 && !strcmp(host, "127.0.0.1") && port == 8001);
  CHECK(bert_serve_parse_url("http://localhost/", host, sizeof host, &port, &err) == 0 && !strcmp(host, "localhost") && port == 8000);
  CHECK(bert_serve_parse_url("[::1]:9", host, sizeof host, &port, &err) == 0 && !strcmp(host, "::1") && port == 9);
  CHECK(bert_serve_parse_url("h:0", host, sizeof host, &port, &err) != 0 && bert_serve_parse_url(":80", host, sizeof host, &port, &err) != 0);
  CHECK(bert_serve_parse_url("h:80/v2", host, sizeof host, &port, &err) != 0 && bert_serve_parse_url("[::1", host, sizeof host, &port, &err) != 0);
}

static void test_quantile(void) {
  double v[] = {5, 1, 4, 2, 3};
  CHECK(bert_serve_quantile(v, 5, 0.5) == 3 && bert_serve_quantile(v, 5, 0.9) == 4.6 && bert_serve_quantile(v, 5, 1) == 5);
  CHECK(bert_serve_quantile(v, 0, 0.5) == 0);
}

int main(void) {
  test_pbtxt();
  test_model_config();
  test_row_pack();
  test_request();
  test_json_limit();
  test_batcher_stop();
  test_quantile();
  test_url();
  return test_summary("serve units");
}
