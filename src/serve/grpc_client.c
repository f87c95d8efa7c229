#include "serve/grpc_client.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

#define SERVICE "/inference.GRPCInferenceService/"

enum tag_kind { UNARY, STREAM_START, STREAM_SEND, STREAM_RECV, STREAM_STATUS };

/* What a completion queue event points at. */
typedef struct tag {
  enum tag_kind kind;
  void *owner;
} tag;

/* A call's receiving side, filled by the RECV_* ops. */
typedef struct reception {
  grpc_metadata_array initial, trailing;
  grpc_byte_buffer *message;
  grpc_status_code status;
  grpc_slice details;
} reception;

typedef struct stream stream;

typedef struct request {
  uint64_t id;              /* 0: the entry is free */
  stream *stream;           /* NULL: a unary call */
  int queued;               /* on a stream, waiting to be written */
  grpc_byte_buffer *out;    /* its message until written (stream) or answered (unary) */
  grpc_call *call;          /* unary */
  reception in;             /* unary */
  double deadline;
  tag t;
} request;

struct stream {
  grpc_call *call;
  int ops;                  /* batches in flight: the stream is freed at 0 once ended */
  int ended;                /* its status arrived or it was cancelled: new requests open another */
  int writing;
  grpc_byte_buffer *writing_buf;
  int got_initial;
  reception in;
  tag t_start, t_send, t_recv, t_status;
  stream *next;
};

struct bert_serve_grpc_client {
  grpc_channel *channel;
  grpc_completion_queue *cq;     /* inference requests */
  grpc_completion_queue *pluck;  /* blocking calls */
  request *reqs;
  int cap, in_flight;
  uint64_t next_id;
  stream *streams;               /* the current one (not ended) first, then any still draining */
  char target[256];
  char error[640];
};

static const char *status_names[] = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
                                     "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
                                     "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
                                     "UNAUTHENTICATED"};

const char *bert_serve_grpc_status_name(int code) {
  return code >= 0 && code < (int)(sizeof status_names / sizeof *status_names) ? status_names[code] : "?";
}

static gpr_timespec after(double seconds) {
  return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_nanos((int64_t)(seconds * 1e9), GPR_TIMESPAN));
}

static void reception_init(reception *r) {
  grpc_metadata_array_init(&r->initial), grpc_metadata_array_init(&r->trailing);
  r->message = NULL, r->status = GRPC_STATUS_OK, r->details = grpc_empty_slice();
}

static void reception_free(reception *r) {
  grpc_metadata_array_destroy(&r->initial), grpc_metadata_array_destroy(&r->trailing);
  if (r->message) grpc_byte_buffer_destroy(r->message);
  grpc_slice_unref(r->details);
  r->message = NULL;
}

static const char *quote_status(char *out, size_t cap, grpc_status_code code, grpc_slice details) {
  size_t n = GRPC_SLICE_LENGTH(details);
  snprintf(out, cap, "gRPC status %d (%s): %.*s", (int)code, bert_serve_grpc_status_name(code), (int)(n < 400 ? n : 400),
           (const char *)GRPC_SLICE_START_PTR(details));
  return out;
}

static ProtobufCMessage *unpack(const ProtobufCMessageDescriptor *type, grpc_byte_buffer *bb) {
  grpc_byte_buffer_reader reader;
  if (!bb || !grpc_byte_buffer_reader_init(&reader, bb)) return NULL;
  grpc_slice s = grpc_byte_buffer_reader_readall(&reader);
  ProtobufCMessage *m = protobuf_c_message_unpack(type, NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
  grpc_slice_unref(s);
  grpc_byte_buffer_reader_destroy(&reader);
  return m;
}

/* The request's id field (field 3, length-delimited) before the caller's packed message: protobuf
 * allows fields in any order, so the message is sent as it is, not re-packed per request. The
 * head fits a slice's inline bytes, so it costs no allocation. */
static grpc_byte_buffer *message_with_id(uint64_t id, const void *msg, size_t len) {
  char head[24];
  int digits = snprintf(head + 2, sizeof head - 2, "%llu", (unsigned long long)id);
  head[0] = (char)((3 << 3) | 2), head[1] = (char)digits;
  grpc_slice parts[2] = {grpc_slice_from_copied_buffer(head, (size_t)digits + 2), grpc_slice_from_static_buffer(msg, len)};
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(parts, 2);
  grpc_slice_unref(parts[0]), grpc_slice_unref(parts[1]);
  return bb;
}

static grpc_call *new_call(bert_serve_grpc_client *c, grpc_completion_queue *cq, const char *path, gpr_timespec deadline) {
  grpc_slice method = grpc_slice_from_copied_string(path);
  grpc_call *call = grpc_channel_create_call(c->channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method, NULL, deadline, NULL);
  grpc_slice_unref(method);
  return call;
}

/* Every op of a unary call in one batch. */
static grpc_call_error start_unary(grpc_call *call, grpc_byte_buffer *msg, reception *in, void *t) {
  grpc_op ops[6];
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[1].op = GRPC_OP_SEND_MESSAGE, ops[1].data.send_message.send_message = msg;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA, ops[3].data.recv_initial_metadata.recv_initial_metadata = &in->initial;
  ops[4].op = GRPC_OP_RECV_MESSAGE, ops[4].data.recv_message.recv_message = &in->message;
  ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[5].data.recv_status_on_client.trailing_metadata = &in->trailing;
  ops[5].data.recv_status_on_client.status = &in->status;
  ops[5].data.recv_status_on_client.status_details = &in->details;
  return grpc_call_start_batch(call, ops, 6, t, NULL);
}

static grpc_call_error start_one(grpc_call *call, grpc_op op, tag *t) { return grpc_call_start_batch(call, &op, 1, t, NULL); }

int bert_serve_grpc_client_open(bert_serve_grpc_client **out, const char *target, int max_in_flight, bert_error *err) {
  bert_serve_grpc_client *c = calloc(1, sizeof *c);
  if (c) c->reqs = calloc((size_t)(max_in_flight > 0 ? max_in_flight : 1), sizeof *c->reqs);
  if (!c || !c->reqs) {
    free(c);
    return bert_error_set(err, BERT_ENOMEM, "out of memory");
  }
  c->cap = max_in_flight > 0 ? max_in_flight : 1;
  snprintf(c->target, sizeof c->target, "%s", target);
  grpc_init();
  /* Its own connection (not the process-wide subchannel pool): clients are separate, as the
   * reference's client processes; and no 4 MB cap on answers (tritonclient lifts it too). */
  grpc_arg args[2] = {{GRPC_ARG_INTEGER, (char *)GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, {.integer = 1}},
                      {GRPC_ARG_INTEGER, (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, {.integer = -1}}};
  grpc_channel_args channel_args = {2, args};
  grpc_channel_credentials *creds = grpc_insecure_credentials_create();
  c->channel = grpc_channel_create(target, creds, &channel_args);
  grpc_channel_credentials_release(creds);
  c->cq = grpc_completion_queue_create_for_next(NULL);
  c->pluck = grpc_completion_queue_create_for_pluck(NULL);
  *out = c;
  return BERT_OK;
}

int bert_serve_grpc_client_connect(bert_serve_grpc_client *c, double timeout, bert_error *err) {
  double end = bert_seconds() + timeout;
  grpc_connectivity_state state;
  int t;
  while ((state = grpc_channel_check_connectivity_state(c->channel, 1)) != GRPC_CHANNEL_READY) {
    double left = end - bert_seconds();
    if (left <= 0 || state == GRPC_CHANNEL_SHUTDOWN)
      return bert_error_set(err, BERT_EIO, "gRPC: no connection to %s within %g s", c->target, timeout);
    grpc_channel_watch_connectivity_state(c->channel, state, after(left), c->pluck, &t);
    grpc_completion_queue_pluck(c->pluck, &t, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  }
  return BERT_OK;
}

int bert_serve_grpc_call(bert_serve_grpc_client *c, const char *method, const ProtobufCMessage *req,
                         const ProtobufCMessageDescriptor *resp_type, ProtobufCMessage **resp, double timeout,
                         bert_error *err) {
  char path[160];
  snprintf(path, sizeof path, SERVICE "%s", method);
  size_t n = protobuf_c_message_get_packed_size(req);
  uint8_t *packed = malloc(n ? n : 1);
  if (!packed) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  protobuf_c_message_pack(req, packed);
  grpc_slice s = grpc_slice_new(packed, n, free);
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
  grpc_slice_unref(s);
  grpc_call *call = new_call(c, c->pluck, path, after(timeout));
  reception in;
  reception_init(&in);
  int t, rc = BERT_OK;
  *resp = NULL;
  if (start_unary(call, bb, &in, &t) != GRPC_CALL_OK)
    rc = bert_error_set(err, BERT_EIO, "%s: the gRPC call could not start", method);
  else
    grpc_completion_queue_pluck(c->pluck, &t, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  if (!rc && in.status != GRPC_STATUS_OK)
    rc = bert_error_set(err, BERT_EIO, "%s: %s", method, quote_status(c->error, sizeof c->error, in.status, in.details));
  else if (!rc && !(*resp = unpack(resp_type, in.message)))
    rc = bert_error_set(err, BERT_EFORMAT, "%s: the answer is not a valid %s", method, resp_type->name);
  reception_free(&in);
  grpc_byte_buffer_destroy(bb);
  grpc_call_unref(call);
  return rc;
}

/* ---- inference requests ---- */

static request *free_request(bert_serve_grpc_client *c) {
  for (int i = 0; i < c->cap; i++)
    if (!c->reqs[i].id) return &c->reqs[i];
  return NULL;
}

static void release(bert_serve_grpc_client *c, request *r) {
  if (r->out) grpc_byte_buffer_destroy(r->out);
  if (r->call) {
    reception_free(&r->in);
    grpc_call_unref(r->call);
  }
  memset(r, 0, sizeof *r);
  c->in_flight--;
}

/* Its status event then fails every request still on it. */
static void cancel_stream(stream *s, grpc_status_code code, const char *why) {
  if (s->ended) return;
  s->ended = 1;
  grpc_call_cancel_with_status(s->call, code, why, NULL);
}

/* Writes the stream's oldest queued request: gRPC takes one message at a time. */
static void write_next(bert_serve_grpc_client *c, stream *s) {
  request *first = NULL;
  for (int i = 0; i < c->cap; i++)
    if (c->reqs[i].id && c->reqs[i].stream == s && c->reqs[i].queued && (!first || c->reqs[i].id < first->id))
      first = &c->reqs[i];
  if (!first) return;
  grpc_op op = {.op = GRPC_OP_SEND_MESSAGE, .data.send_message.send_message = first->out};
  if (start_one(s->call, op, &s->t_send) != GRPC_CALL_OK) {
    cancel_stream(s, GRPC_STATUS_INTERNAL, "a stream message could not be sent");
    return;
  }
  s->writing = 1, s->writing_buf = first->out, s->ops++;
  first->out = NULL, first->queued = 0;
}

/* Arms the next RECV_MESSAGE (with the initial metadata the first time, as grpc++ does). */
static void receive_next(stream *s) {
  grpc_op ops[2];
  memset(ops, 0, sizeof ops);
  int n = 0;
  if (!s->got_initial)
    ops[n].op = GRPC_OP_RECV_INITIAL_METADATA, ops[n++].data.recv_initial_metadata.recv_initial_metadata = &s->in.initial;
  ops[n].op = GRPC_OP_RECV_MESSAGE, ops[n++].data.recv_message.recv_message = &s->in.message;
  if (grpc_call_start_batch(s->call, ops, (size_t)n, &s->t_recv, NULL) == GRPC_CALL_OK) s->ops++, s->got_initial = 1;
}

static stream *open_stream(bert_serve_grpc_client *c, bert_error *err) {
  stream *s = calloc(1, sizeof *s);
  if (!s) return bert_error_set(err, BERT_ENOMEM, "out of memory"), NULL;
  s->call = new_call(c, c->cq, SERVICE "ModelStreamInfer", gpr_inf_future(GPR_CLOCK_REALTIME));
  reception_init(&s->in);
  s->t_start = (tag){STREAM_START, s}, s->t_send = (tag){STREAM_SEND, s};
  s->t_recv = (tag){STREAM_RECV, s}, s->t_status = (tag){STREAM_STATUS, s};
  grpc_op status = {.op = GRPC_OP_RECV_STATUS_ON_CLIENT};
  status.data.recv_status_on_client.trailing_metadata = &s->in.trailing;
  status.data.recv_status_on_client.status = &s->in.status;
  status.data.recv_status_on_client.status_details = &s->in.details;
  if (start_one(s->call, (grpc_op){.op = GRPC_OP_SEND_INITIAL_METADATA}, &s->t_start) != GRPC_CALL_OK ||
      start_one(s->call, status, &s->t_status) != GRPC_CALL_OK) {
    reception_free(&s->in);
    grpc_call_unref(s->call);
    free(s);
    return bert_error_set(err, BERT_EIO, "cannot open a ModelStreamInfer stream"), NULL;
  }
  s->ops = 2;
  receive_next(s);
  s->next = c->streams, c->streams = s;
  return s;
}

int bert_serve_grpc_infer_send(bert_serve_grpc_client *c, int use_stream, const void *msg, size_t len, double timeout,
                               uint64_t *id, bert_error *err) {
  request *r = free_request(c);
  if (!r) return bert_error_set(err, BERT_EINVAL, "more than %d gRPC requests in flight", c->cap);
  stream *s = NULL;
  if (use_stream && !(s = c->streams && !c->streams->ended ? c->streams : open_stream(c, err))) return err->code;
  memset(r, 0, sizeof *r);
  r->id = ++c->next_id, r->deadline = bert_seconds() + timeout, r->t = (tag){UNARY, r};
  r->out = message_with_id(r->id, msg, len);
  c->in_flight++;
  *id = r->id;
  if (s) {
    r->stream = s, r->queued = 1;
    if (!s->writing) write_next(c, s);
    return BERT_OK;
  }
  r->call = new_call(c, c->cq, SERVICE "ModelInfer", after(timeout));
  reception_init(&r->in);
  if (start_unary(r->call, r->out, &r->in, &r->t) == GRPC_CALL_OK) return BERT_OK;
  release(c, r);
  return bert_error_set(err, BERT_EIO, "ModelInfer: the gRPC call could not start");
}

/* NULL when the unary call brought a valid answer (*m), else what went wrong. */
static const char *unary_problem(bert_serve_grpc_client *c, request *r, int ok, Inference__ModelInferResponse **m) {
  if (!ok) return "the gRPC call failed";
  if (r->in.status != GRPC_STATUS_OK) return quote_status(c->error, sizeof c->error, r->in.status, r->in.details);
  *m = (Inference__ModelInferResponse *)unpack(&inference__model_infer_response__descriptor, r->in.message);
  if (!*m) return "the answer is not a valid ModelInferResponse";
  return strtoull((*m)->id, NULL, 10) == r->id ? NULL : "the answer does not echo the request's id";
}

static void unary_done(bert_serve_grpc_client *c, request *r, int ok, double at, bert_serve_grpc_on_answer cb, void *ctx) {
  Inference__ModelInferResponse *m = NULL;
  bert_serve_grpc_answer a = {r->id, at, r->in.status, unary_problem(c, r, ok, &m), NULL};
  a.response = a.error ? NULL : m;
  cb(ctx, &a);
  if (m) protobuf_c_message_free_unpacked(&m->base, NULL);
  release(c, r);
}

/* The stream request an answer belongs to: by the echoed id, or the only one in flight (an
 * error answer without an id). */
static request *match(bert_serve_grpc_client *c, stream *s, const Inference__ModelStreamInferResponse *m) {
  const char *id = m->infer_response ? m->infer_response->id : NULL;
  uint64_t want = id && *id ? strtoull(id, NULL, 10) : 0;
  request *only = NULL;
  int n = 0;
  for (int i = 0; i < c->cap; i++) {
    request *r = &c->reqs[i];
    if (!r->id || r->stream != s || r->queued) continue;
    if (want && r->id == want) return r;
    only = r, n++;
  }
  return !want && n == 1 && m->error_message && *m->error_message ? only : NULL;
}

static void stream_message(bert_serve_grpc_client *c, stream *s, double at, bert_serve_grpc_on_answer cb, void *ctx) {
  grpc_byte_buffer *bb = s->in.message;
  s->in.message = NULL;
  if (!bb) return; /* the stream is over: its status follows */
  Inference__ModelStreamInferResponse *m =
      (Inference__ModelStreamInferResponse *)unpack(&inference__model_stream_infer_response__descriptor, bb);
  grpc_byte_buffer_destroy(bb);
  if (!s->ended) receive_next(s);
  request *r = m ? match(c, s, m) : NULL;
  if (!r) { /* a request would wait for an answer that came without its id: fail them all now */
    cancel_stream(s, GRPC_STATUS_INTERNAL, m ? "a stream answer matched no request in flight" : "an undecodable stream answer");
  } else {
    bert_serve_grpc_answer a = {r->id, at, GRPC_STATUS_OK, NULL, m->infer_response};
    if (m->error_message && *m->error_message) {
      snprintf(c->error, sizeof c->error, "stream error: %.400s", m->error_message);
      a.status = GRPC_STATUS_UNKNOWN, a.error = c->error, a.response = NULL;
    } else if (!a.response) {
      a.status = GRPC_STATUS_INTERNAL, a.error = "a stream answer without infer_response";
    }
    cb(ctx, &a);
    release(c, r);
  }
  if (m) protobuf_c_message_free_unpacked(&m->base, NULL);
}

/* The stream ended: every request still on it fails with its status. */
static void stream_status(bert_serve_grpc_client *c, stream *s, double at, bert_serve_grpc_on_answer cb, void *ctx) {
  s->ended = 1;
  const char *why = s->in.status != GRPC_STATUS_OK ? quote_status(c->error, sizeof c->error, s->in.status, s->in.details)
                                                   : "the stream ended before the answer";
  for (int i = 0; i < c->cap; i++) {
    request *r = &c->reqs[i];
    if (!r->id || r->stream != s) continue;
    bert_serve_grpc_answer a = {r->id, at, s->in.status != GRPC_STATUS_OK ? (int)s->in.status : GRPC_STATUS_UNKNOWN, why, NULL};
    cb(ctx, &a);
    release(c, r);
  }
}

static void free_ended_streams(bert_serve_grpc_client *c) {
  for (stream **p = &c->streams; *p;) {
    stream *s = *p;
    if (!s->ended || s->ops) {
      p = &s->next;
      continue;
    }
    *p = s->next;
    if (s->writing_buf) grpc_byte_buffer_destroy(s->writing_buf);
    reception_free(&s->in);
    grpc_call_unref(s->call);
    free(s);
  }
}

static void on_event(bert_serve_grpc_client *c, tag *t, int ok, double at, bert_serve_grpc_on_answer cb, void *ctx) {
  stream *s = t->owner;
  if (t->kind == UNARY) {
    unary_done(c, t->owner, ok, at, cb, ctx);
    return;
  }
  s->ops--;
  if (t->kind == STREAM_SEND) {
    grpc_byte_buffer_destroy(s->writing_buf);
    s->writing = 0, s->writing_buf = NULL;
    if (!ok) cancel_stream(s, GRPC_STATUS_UNAVAILABLE, "a stream message could not be written");
    else if (!s->ended) write_next(c, s);
  } else if (t->kind == STREAM_RECV) {
    if (ok) stream_message(c, s, at, cb, ctx);
  } else if (t->kind == STREAM_STATUS) {
    stream_status(c, s, at, cb, ctx);
  }
  free_ended_streams(c);
}

/* A stream request past its deadline fails the stream: an answer cannot be cancelled alone. */
static void expire(bert_serve_grpc_client *c) {
  double now = bert_seconds();
  for (int i = 0; i < c->cap; i++)
    if (c->reqs[i].id && c->reqs[i].stream && now > c->reqs[i].deadline)
      cancel_stream(c->reqs[i].stream, GRPC_STATUS_DEADLINE_EXCEEDED, "no answer within the timeout");
}

int bert_serve_grpc_poll(bert_serve_grpc_client *c, double wait, bert_serve_grpc_on_answer cb, void *ctx) {
  gpr_timespec deadline = after(wait);
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(c->cq, deadline, NULL);
    if (ev.type != GRPC_OP_COMPLETE) break;
    on_event(c, ev.tag, ev.success, bert_seconds(), cb, ctx);
    deadline = gpr_inf_past(GPR_CLOCK_MONOTONIC); /* then only what is ready */
  }
  expire(c);
  return c->in_flight;
}

static void ignore_answer(void *ctx, const bert_serve_grpc_answer *a) { (void)ctx, (void)a; }

void bert_serve_grpc_client_close(bert_serve_grpc_client *c) {
  if (!c) return;
  for (int i = 0; i < c->cap; i++)
    if (c->reqs[i].id && c->reqs[i].call) grpc_call_cancel(c->reqs[i].call, NULL);
  for (stream *s = c->streams; s; s = s->next) {
    if (s->ended) continue;
    /* idle: end it as a client does (the server then closes with OK); else cut it off */
    grpc_op half_close = {.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT};
    if (!c->in_flight && !s->writing && start_one(s->call, half_close, &s->t_start) == GRPC_CALL_OK)
      s->ops++;
    else
      cancel_stream(s, GRPC_STATUS_CANCELLED, "the client closed");
  }
  for (int waited = 0; c->in_flight || c->streams; waited++) {
    bert_serve_grpc_poll(c, 1.0, ignore_answer, NULL);
    for (stream *s = c->streams; waited == 5 && s; s = s->next) cancel_stream(s, GRPC_STATUS_CANCELLED, "the client closed");
  }
  grpc_completion_queue_shutdown(c->cq), grpc_completion_queue_shutdown(c->pluck);
  while (grpc_completion_queue_next(c->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN) {}
  while (grpc_completion_queue_pluck(c->pluck, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN) {}
  grpc_completion_queue_destroy(c->cq), grpc_completion_queue_destroy(c->pluck);
  grpc_channel_destroy(c->channel);
  free(c->reqs);
  free(c);
  grpc_shutdown();
}
