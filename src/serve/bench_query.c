#include "serve/bench_query.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/http_client.h"

/* ---- HTTP ---- */

/* GET /v2/models/<name>/<what>; on success *body points into conn (close it with http_done). */
static int http_get(const bert_serve_bench_server *s, const char *name, const char *what, bert_serve_conn *conn,
                    const char **body, size_t *len, bert_error *err) {
  char path[512];
  snprintf(path, sizeof path, "/v2/models/%s/%s", name, what);
  *len = 0;
  bert_serve_conn_init(conn, s->host, s->port);
  int rc = bert_serve_conn_request(conn, "GET", path, NULL, NULL, 0, 60, err);
  *body = rc ? NULL : bert_serve_conn_body(conn, len);
  if (!rc && conn->status != 200)
    rc = bert_error_set(err, BERT_EIO, "GET %s: HTTP %d: %.*s", path, conn->status, (int)(*len < 300 ? *len : 300), *body);
  return rc;
}

static void http_done(bert_serve_conn *conn) {
  bert_serve_conn_close(conn);
  free(conn->in);
}

static uint64_t json_ns(const cJSON *stats, const char *what, const char *field) {
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(stats, what), field);
  return cJSON_IsNumber(d) ? (uint64_t)d->valuedouble : 0;
}

static int http_stats(const bert_serve_bench_server *s, const char *name, bert_serve_bench_stats *st, bert_error *err) {
  bert_serve_conn conn;
  const char *body;
  size_t len;
  int rc = http_get(s, name, "stats", &conn, &body, &len, err);
  cJSON *root = rc ? NULL : cJSON_ParseWithLength(body, len);
  const cJSON *one = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "model_stats"), 0);
  const cJSON *is = cJSON_GetObjectItemCaseSensitive(one, "inference_stats");
  if (!rc && !is) rc = bert_error_set(err, BERT_EFORMAT, "GET /v2/models/%s/stats: no inference_stats", name);
  if (!rc)
    *st = (bert_serve_bench_stats){json_ns(is, "success", "count"), json_ns(is, "success", "ns"), json_ns(is, "queue", "ns"),
                                   json_ns(is, "compute_input", "ns"), json_ns(is, "compute_infer", "ns"),
                                   json_ns(is, "compute_output", "ns")};
  cJSON_Delete(root);
  http_done(&conn);
  return rc;
}

static int http_model(const bert_serve_bench_server *s, const char *name, bert_serve_bench_model *m, bert_error *err) {
  bert_serve_conn conn;
  const char *body;
  size_t len;
  int rc = http_get(s, name, "config", &conn, &body, &len, err);
  if (!rc) rc = bert_serve_bench_model_init(m, body, len, err);
  http_done(&conn);
  return rc;
}

/* ---- gRPC ---- */

static void add_io(cJSON *list, const char *name, Inference__DataType dt, size_t n, const int64_t *dims) {
  cJSON *o = cJSON_CreateObject(), *d = cJSON_CreateArray();
  const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&inference__data_type__descriptor, (int)dt);
  cJSON_AddStringToObject(o, "name", name);
  cJSON_AddStringToObject(o, "data_type", v ? v->name : "TYPE_INVALID");
  for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(d, cJSON_CreateNumber((double)dims[i]));
  cJSON_AddItemToObject(o, "dims", d);
  cJSON_AddItemToArray(list, o);
}

/* ModelConfig in the JSON form of GET .../config, so both protocols go through one reader. */
static char *config_json(const Inference__ModelConfig *c) {
  cJSON *root = cJSON_CreateObject(), *in = cJSON_CreateArray(), *out = cJSON_CreateArray();
  cJSON_AddStringToObject(root, "name", c->name);
  cJSON_AddStringToObject(root, "platform", c->platform);
  cJSON_AddStringToObject(root, "backend", c->backend);
  cJSON_AddNumberToObject(root, "max_batch_size", c->max_batch_size);
  for (size_t i = 0; i < c->n_input; i++)
    add_io(in, c->input[i]->name, c->input[i]->data_type, c->input[i]->n_dims, c->input[i]->dims);
  for (size_t i = 0; i < c->n_output; i++)
    add_io(out, c->output[i]->name, c->output[i]->data_type, c->output[i]->n_dims, c->output[i]->dims);
  cJSON_AddItemToObject(root, "input", in);
  cJSON_AddItemToObject(root, "output", out);
  char *text = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  return text;
}

static int grpc_model(const bert_serve_bench_server *s, const char *name, bert_serve_bench_model *m, bert_error *err) {
  Inference__ModelConfigRequest req = INFERENCE__MODEL_CONFIG_REQUEST__INIT;
  req.name = (char *)name;
  Inference__ModelConfigResponse *resp;
  int rc = bert_serve_grpc_call(s->grpc, "ModelConfig", &req.base, &inference__model_config_response__descriptor,
                                (ProtobufCMessage **)&resp, 60, err);
  if (rc) return rc;
  char *json = resp->config ? config_json(resp->config) : NULL;
  rc = json ? bert_serve_bench_model_init(m, json, strlen(json), err)
            : bert_error_set(err, BERT_EFORMAT, "ModelConfig %s: the answer has no config", name);
  free(json);
  protobuf_c_message_free_unpacked(&resp->base, NULL);
  return rc;
}

static uint64_t ns(const Inference__StatisticDuration *d) { return d ? d->ns : 0; }

static int grpc_stats(const bert_serve_bench_server *s, const char *name, bert_serve_bench_stats *st, bert_error *err) {
  Inference__ModelStatisticsRequest req = INFERENCE__MODEL_STATISTICS_REQUEST__INIT;
  req.name = (char *)name;
  Inference__ModelStatisticsResponse *resp;
  int rc = bert_serve_grpc_call(s->grpc, "ModelStatistics", &req.base, &inference__model_statistics_response__descriptor,
                                (ProtobufCMessage **)&resp, 60, err);
  if (rc) return rc;
  const Inference__InferStatistics *is = resp->n_model_stats ? resp->model_stats[0]->inference_stats : NULL;
  if (!is) rc = bert_error_set(err, BERT_EFORMAT, "ModelStatistics %s: no inference_stats", name);
  else
    *st = (bert_serve_bench_stats){is->success ? is->success->count : 0, ns(is->success), ns(is->queue), ns(is->compute_input),
                                   ns(is->compute_infer), ns(is->compute_output)};
  protobuf_c_message_free_unpacked(&resp->base, NULL);
  return rc;
}

int bert_serve_bench_fetch_model(const bert_serve_bench_server *s, const char *name, bert_serve_bench_model *m,
                                 bert_error *err) {
  return s->protocol == BERT_SERVE_BENCH_GRPC ? grpc_model(s, name, m, err) : http_model(s, name, m, err);
}

int bert_serve_bench_fetch_stats(const bert_serve_bench_server *s, const char *name, bert_serve_bench_stats *st,
                                 bert_error *err) {
  memset(st, 0, sizeof *st);
  return s->protocol == BERT_SERVE_BENCH_GRPC ? grpc_stats(s, name, st, err) : http_stats(s, name, st, err);
}
