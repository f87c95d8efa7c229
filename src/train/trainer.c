#include "train/trainer.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"
#include "base/progress.h"
#include "base/strbuf.h"
#include "data/loader.h"
#include "model/checkpoint.h"
#include "text/tokenizer.h"
#include "text/vocab.h"
#include "train/loss_scale.h"
#include "train/optimizer.h"
#include "train/run_checkpoint.h"
#include "train/run_model.h"
#include "train/schedule.h"
#include "train/step_metrics.h"

typedef struct trainer {
  const bert_run_config *rc;
  const bert_dist *dist;
  bert_model model;
  bert_workspace ws;
  bert_optimizer opt;
  bert_loader *loader;
  int have_model, have_ws, have_opt;
  bert_task task;
  bert_precision precision;
  bert_lr_schedule schedule;
  int masked, slots;
  int micro_per_update;      /* this rank's micro-batches per weight update: RF x GA / W */
  int64_t micro_per_step;    /* all ranks' micro-batches per logged step: RF x GA x DI */
  int64_t start_step, total_steps;
  int half_grads;            /* --precision fp16: gradients held in IEEE half */
  bert_loss_scaler scaler;
  int lower_case;
  char vocab[4096]; /* --vocab, found beside the executable when not in the working directory */
  FILE *metrics;
  char metrics_path[4096];
  bert_strbuf line;
} trainer;

static int leader(const trainer *t) { return t->dist->rank == 0; }

/* ---------------------------------------------------------------- set-up */

static int check_shape(trainer *t, bert_error *err) {
  const bert_run_config *rc = t->rc;
  int r = bert_run_micro_per_rank(rc, t->dist, &t->micro_per_update, err);
  if (r) return r;
  int64_t micro_per_update = (int64_t)rc->replication_factor * rc->gradient_accumulation;
  t->micro_per_step = micro_per_update * rc->device_iterations;
  t->total_steps = rc->training_steps;
  if (t->total_steps < 1) return bert_error_set(err, BERT_EINVAL, "--training-steps must be at least 1");
  if (rc->sequence_length > 512)
    return bert_error_set(err, BERT_EINVAL, "--sequence-length %d exceeds the 512 position embeddings", rc->sequence_length);
  if (!strcmp(rc->precision, "int8"))
    return bert_error_set(err, BERT_EINVAL, "--precision int8 is for inference (bert infer, bert squad evaluation, "
                                            "bert qa, bert serve); pretrain in fp32, bf16 or fp16");
  t->precision = strcmp(rc->precision, "bf16") ? BERT_FP32 : BERT_BF16;
  t->half_grads = !strcmp(rc->precision, "fp16");
  t->task = rc->packed_data ? BERT_TASK_PRETRAINING_PACKED : BERT_TASK_PRETRAINING;
  t->slots = rc->packed_data ? rc->max_sequences_per_pack : 1;
  t->masked = rc->mask_tokens + t->slots - 1; /* the reference adds S - 1 slots when packed */
  double scale = bert_run_config_has(rc, BERT_OPT_LOSS_SCALING) ? rc->loss_scaling : 1.0;
  if (!(scale > 0)) return bert_error_set(err, BERT_EINVAL, "--loss-scaling must be positive");
  bert_loss_scaler_init(&t->scaler, scale, t->half_grads && rc->auto_loss_scaling);
  t->schedule = BERT_LR_CONSTANT;
  if (bert_run_config_has(rc, BERT_OPT_LR_SCHEDULE)) return bert_lr_schedule_parse(rc->lr_schedule, &t->schedule, err);
  return BERT_OK;
}

static int build_model(trainer *t, char *input_dir, size_t cap, bert_error *err) {
  bert_config cfg;
  int rc = bert_run_model_config(t->rc, "BertForPreTraining", &cfg, err);
  if (!rc) rc = bert_model_create(&t->model, &cfg, BERT_PARTS_PRETRAINING, err);
  bert_config_free(&cfg);
  if (rc) return rc;
  t->have_model = 1;
  bert_layout_init(&t->model.layout, &t->model.config, (uint64_t)t->rc->random_seed, BERT_PART_ALL, t->model.params);
  input_dir[0] = '\0';
  const char *in = t->rc->checkpoint_input_dir;
  if (in && in[0]) {
    uint64_t seed = (uint64_t)t->rc->random_seed;
    if ((rc = bert_run_checkpoint_resolve(in, input_dir, cap, err)) ||
        (rc = bert_run_load_weights(&t->model, input_dir, seed, leader(t), err)))
      return rc;
  }
  /* every rank starts from rank 0's parameters */
  rc = bert_dist_broadcast(t->dist, t->model.params, t->model.layout.total * sizeof(float), 0, err);
  if (!rc) rc = bert_model_enable_grads(&t->model, err);
  if (!rc) rc = bert_model_set_precision(&t->model, t->precision, err);
  if (!rc) rc = bert_workspace_create(&t->ws, &t->model, t->task, t->rc->micro_batch_size, t->rc->sequence_length,
                                      t->masked, t->slots, 1, err);
  t->have_ws = rc == BERT_OK;
  return rc;
}

static int build_optimizer(trainer *t, bert_error *err) {
  bert_optimizer_config oc;
  bert_optimizer_config_defaults(&oc);
  int rc = bert_optimizer_kind_parse(t->rc->optimizer, &oc.kind, err);
  if (rc) return rc;
  oc.weight_decay = t->rc->weight_decay;
  oc.half_first_moment = t->rc->enable_half_first_order_momentum;
  rc = bert_optimizer_create(&t->opt, &t->model.layout, &oc, err);
  t->have_opt = rc == BERT_OK;
  return rc;
}

static int resolve_casing(trainer *t, bert_error *err) {
  bert_vocab vocab;
  bert_find_project_file(t->rc->vocab, t->vocab, sizeof t->vocab);
  int rc = bert_vocab_load(&vocab, t->vocab, err);
  if (rc) return bert_error_prefix(err, "--vocab: ");
  if (vocab.size != t->rc->vocab_size)
    bert_warn("%s holds %d tokens but the model's vocabulary size is %d", t->vocab, vocab.size, t->rc->vocab_size);
  rc = bert_casing_resolve(t->vocab, &vocab, -1, &t->lower_case, err);
  bert_vocab_free(&vocab);
  return rc;
}

static int resume(trainer *t, const char *dir, bert_error *err) {
  if (!dir[0])
    return bert_error_set(err, BERT_EINVAL, "--resume-training-from-checkpoint needs --checkpoint-input-dir");
  bert_train_state st;
  int rc = bert_run_checkpoint_load_state(dir, &st, &t->opt, err);
  if (rc) return rc;
  if (st.seed != (uint64_t)t->rc->random_seed && leader(t))
    bert_warn("resuming a run started with --random-seed %llu using %d: the data order and dropout change",
              (unsigned long long)st.seed, t->rc->random_seed);
  if (st.step > t->total_steps)
    return bert_error_set(err, BERT_EINVAL, "%s is step %lld, beyond --training-steps %lld", dir, (long long)st.step,
                          (long long)t->total_steps);
  t->start_step = st.step;
  t->scaler.scale = st.loss_scale;
  return BERT_OK;
}

static int open_loader(trainer *t, bert_error *err) {
  const bert_run_config *rc = t->rc;
  bert_loader_config lc;
  memset(&lc, 0, sizeof lc);
  lc.input_files = (const char *const *)rc->input_files.items;
  lc.input_file_count = (int)rc->input_files.count;
  lc.packed = rc->packed_data;
  lc.seq_len = rc->sequence_length;
  lc.masked = t->masked;
  lc.slots = t->slots;
  lc.micro_batch = rc->micro_batch_size;
  lc.global_batch = (int)rc->samples_per_step;
  lc.rank = t->dist->rank, lc.world = t->dist->world;
  lc.seed = (uint64_t)rc->random_seed;
  int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
  lc.workers = rc->dataloader_workers < cores ? rc->dataloader_workers : cores; /* the reference's 64 is for IPU hosts */
  lc.check_crc = 1;
  lc.generated = rc->synthetic_data || (rc->dataset && !strcmp(rc->dataset, "generated"));
  lc.vocab_size = rc->vocab_size;
  if (!lc.generated && !lc.input_file_count) return bert_error_set(err, BERT_EINVAL, "--input-files is required");
  int r = bert_loader_open(&t->loader, &lc, err);
  if (r || !t->start_step) return r;
  double t0 = bert_seconds();
  if (leader(t)) bert_log("Forwarding Data Loader until Checkpoint Step %lld", (long long)t->start_step);
  r = bert_loader_seek(t->loader, (uint64_t)t->start_step, err);
  if (!r && leader(t)) bert_log("Data loader forwarded in %.3f secs", bert_seconds() - t0);
  return r;
}

static int prepare_output(trainer *t, bert_error *err) {
  const char *out = t->rc->checkpoint_output_dir;
  int rc = BERT_OK;
  if (leader(t) && out && out[0] && bert_run_checkpoint_exists(out))
    rc = bert_error_set(err, BERT_EINVAL,
                        "Found previously saved checkpoint(s) at checkpoint-dir %s. Overwriting checkpoints is not "
                        "supported. Please specify a different checkpoint-dir to save checkpoints from this run.",
                        out);
  char *path = t->metrics_path;
  size_t cap = sizeof t->metrics_path;
  if (!rc && leader(t)) {
    if (t->rc->metrics_file && t->rc->metrics_file[0]) snprintf(path, cap, "%s", t->rc->metrics_file);
    else if (out && out[0] && !(rc = bert_mkdir_p(out, err))) bert_path_join(path, cap, out, "metrics.jsonl");
  }
  if (!rc && path[0] && !(t->metrics = fopen(path, t->start_step ? "a" : "w"))) /* a resumed run continues the file */
    rc = bert_error_set(err, BERT_EIO, "%s: cannot open the metrics file: %s", path, strerror(errno));
  return bert_dist_agree(t->dist, rc, err);
}

/* ---------------------------------------------------------------- training */

static int save_checkpoint(trainer *t, int64_t step, bert_error *err) {
  const char *out = t->rc->checkpoint_output_dir;
  if (!out || !out[0]) return BERT_OK;
  int rc = BERT_OK;
  if (leader(t)) {
    bert_train_state st;
    memset(&st, 0, sizeof st);
    st.step = step, st.total_steps = t->total_steps, st.loss_scale = t->scaler.scale;
    st.seed = (uint64_t)t->rc->random_seed;
    snprintf(st.optimizer, sizeof st.optimizer, "%s", t->rc->optimizer);
    snprintf(st.schedule, sizeof st.schedule, "%s", bert_lr_schedule_name(t->schedule));
    bert_checkpoint_files files = {t->vocab, t->lower_case};
    bert_log("Saving checkpoint for step %lld to: %s/step_%lld", (long long)step, out, (long long)step);
    rc = bert_run_checkpoint_save(out, &t->model, &t->opt, &st, &files, err);
  }
  return bert_dist_agree(t->dist, rc, err);
}

static void to_model_batch(const bert_loader_batch *lb, bert_batch *b) {
  memset(b, 0, sizeof *b);
  b->batch = lb->batch, b->len = lb->len;
  b->input_ids = lb->input_ids;
  b->token_type_ids = lb->segment_ids;
  b->position_ids = lb->position_ids;
  if (lb->packed) b->seq_index = lb->input_mask;
  else b->attention_mask = lb->input_mask;
  b->masked = lb->masked, b->masked_positions = lb->masked_positions, b->masked_labels = lb->masked_labels;
  b->slots = lb->slots, b->nsp_labels = lb->nsp_labels, b->nsp_mask = lb->nsp_mask;
}

/* One micro-batch forward and backward; the dropout stream is keyed by the micro-batch's global
 * number, so it is the same whatever the rank count. */
static int micro_batch(trainer *t, int64_t step, bert_step_metrics *sm, bert_error *err) {
  const bert_loader_batch *lb;
  int rc = bert_loader_next(t->loader, &lb, err);
  if (rc) return rc;
  bert_batch b;
  to_model_batch(lb, &b);
  int64_t global = step * t->micro_per_step + t->dist->rank + (int64_t)t->dist->world * lb->micro;
  bert_rng dropout = bert_rng_make((uint64_t)t->rc->random_seed, BERT_RNG_DROPOUT, (uint64_t)global, 0);
  if ((rc = bert_model_forward(&t->model, &t->ws, &b, 1, dropout, err))) return rc;
  const bert_outputs *o = &t->ws.out;
  bert_step_metrics_add(sm, o->loss, o->mlm_loss, o->nsp_loss, o->mlm_acc, o->nsp_acc, o->packing_ratio);
  if ((rc = bert_model_backward(&t->model, &t->ws, &b, (float)t->scaler.scale, err))) return rc;
  if (t->half_grads) bert_grads_round_half(t->model.grads, t->model.layout.total);
  return BERT_OK;
}

static int weight_update(trainer *t, int64_t step, double lr, bert_step_metrics *sm, bert_error *err) {
  bert_model_zero_grads(&t->model);
  int rc = BERT_OK;
  for (int j = 0; !rc && j < t->micro_per_update; j++) rc = micro_batch(t, step, sm, err);
  if ((rc = bert_dist_agree(t->dist, rc, err))) return rc;
  float *g = t->model.grads;
  size_t n = t->model.layout.total;
  if ((rc = bert_dist_allreduce_mean(t->dist, g, n, err))) return rc;
  float grad_scale = (float)(1.0 / ((double)t->micro_per_update * t->scaler.scale));
  if (t->half_grads) { /* every rank holds the same reduced gradients, hence the same decision */
    bert_grads_round_half(g, n);
    bert_grad_stats st = bert_grads_stats(g, n);
    if (!bert_loss_scaler_update(&t->scaler, &st)) return BERT_OK;
  }
  bert_optimizer_step(&t->opt, t->model.params, g, grad_scale, (float)lr);
  if (t->precision == BERT_BF16) bert_model_sync_bf16(&t->model);
  return BERT_OK;
}

static double lr_at(const trainer *t, int64_t step) {
  return t->rc->learning_rate * bert_lr_multiplier(t->schedule, step, t->total_steps, t->rc->lr_warmup);
}

/* A metrics line that cannot be written stops the run (a log with silent gaps would be plotted
 * as if whole); the checkpoints saved so far stay, to resume from. */
static int report_step(trainer *t, int64_t step, double lr, const bert_step_metrics *sm, double seconds,
                       bert_progress *bar, bert_error *err) {
  double sequences = (double)t->rc->samples_per_step * (t->rc->packed_data ? sm->mean[BERT_METRIC_PACKING] : 1.0);
  double throughput = sequences / seconds;
  bert_strbuf_clear(&t->line);
  if (t->metrics) {
    bert_step_metrics_json(sm, step, lr, t->scaler.scale, throughput, &t->line);
    if (fprintf(t->metrics, "%s\n", t->line.data) < 0 || fflush(t->metrics) != 0)
      return bert_error_set(err, BERT_EIO, "%s: write failed: %s", t->metrics_path, strerror(errno));
    bert_strbuf_clear(&t->line);
  }
  if (bar->enabled) {
    bert_progress_set(bar, (uint64_t)(step + 1 - t->start_step));
    return BERT_OK;
  }
  /* the reference logs the rate of the NEXT step (its scheduler has already moved on) */
  bert_step_metrics_describe(sm, step, t->total_steps - 1, lr_at(t, step + 1), &t->line);
  bert_log("%s: throughput: %.1f samples/sec", t->line.data, throughput);
  return BERT_OK;
}

static int close_metrics(trainer *t, bert_error *err) {
  int closed = !t->metrics || fclose(t->metrics) == 0;
  t->metrics = NULL;
  return closed ? BERT_OK : bert_error_set(err, BERT_EIO, "%s: close failed: %s", t->metrics_path, strerror(errno));
}

static int train(trainer *t, bert_error *err) {
  int rc = BERT_OK;
  if (!t->start_step && (rc = save_checkpoint(t, 0, err))) return rc;
  bert_progress bar;
  bert_progress_init(&bar, "Training", (uint64_t)(t->total_steps - t->start_step), "steps", 1.0,
                     leader(t) && !t->rc->disable_progress_bar && isatty(STDERR_FILENO));
  double start = bert_seconds();
  for (int64_t step = t->start_step; step < t->total_steps; step++) {
    double t0 = bert_seconds(), lr = lr_at(t, step);
    bert_step_metrics sm;
    bert_step_metrics_reset(&sm);
    for (int u = 0; !rc && u < t->rc->device_iterations; u++) rc = weight_update(t, step, lr, &sm, err);
    if (rc || (rc = bert_step_metrics_finish(&sm, t->dist, err))) break;
    int reported = leader(t) ? report_step(t, step, lr, &sm, bert_seconds() - t0, &bar, err) : BERT_OK;
    if ((rc = bert_dist_agree(t->dist, reported, err))) break;
    int64_t done = step + 1, every = t->rc->checkpoint_steps;
    int due = done == t->total_steps || (bert_run_config_has(t->rc, BERT_OPT_CHECKPOINT_STEPS) && every > 0 && done % every == 0);
    if (due && (rc = save_checkpoint(t, done, err))) break;
  }
  bert_progress_finish(&bar);
  if (!rc) rc = bert_dist_agree(t->dist, close_metrics(t, err), err);
  if (!rc && leader(t)) {
    bert_log("global_batch_size: %lld", t->rc->global_batch_size);
    bert_log("device_iterations: %d", t->rc->device_iterations);
    bert_log("training_steps: %lld", (long long)t->total_steps);
    bert_log("Training time: %.3f secs", bert_seconds() - start);
    if (t->half_grads)
      bert_log("Skipped %lld of %lld updates for non-finite gradients; final loss scale %g",
               (long long)t->scaler.skipped, (long long)((t->total_steps - t->start_step) * t->rc->device_iterations),
               t->scaler.scale);
  }
  return rc;
}

static void trainer_free(trainer *t) {
  if (t->loader) bert_loader_close(t->loader);
  if (t->have_opt) bert_optimizer_free(&t->opt);
  if (t->have_ws) bert_workspace_free(&t->ws);
  if (t->have_model) bert_model_free(&t->model);
  if (t->metrics) fclose(t->metrics);
  bert_strbuf_free(&t->line);
}

int bert_pretrain(const bert_run_config *rc, const bert_dist *dist, bert_error *err) {
  trainer t;
  memset(&t, 0, sizeof t);
  t.rc = rc, t.dist = dist;
  char input_dir[4096];
  double t0 = bert_seconds();
  int r = check_shape(&t, err);
  if (!r && leader(&t) && dist->world > 1)
    bert_log("%d ranks: each accumulates %d of the %d micro-batches of an update", dist->world, t.micro_per_update,
             rc->replication_factor * rc->gradient_accumulation);
  if (!r) r = resolve_casing(&t, err);
  if (!r) r = build_model(&t, input_dir, sizeof input_dir, err);
  if (!r) r = build_optimizer(&t, err);
  if (!r && rc->resume_training_from_checkpoint) r = resume(&t, input_dir, err);
  r = bert_dist_agree(dist, r, err);
  if (!r && leader(&t)) bert_log("Compiled/Loaded model in %.3f secs", bert_seconds() - t0);
  double t1 = bert_seconds();
  if (!r) r = bert_dist_agree(dist, open_loader(&t, err), err);
  if (!r && leader(&t)) bert_log("Data loaded in %.3f secs", bert_seconds() - t1);
  if (!r) r = prepare_output(&t, err);
  if (!r) r = train(&t, err);
  trainer_free(&t);
  return r;
}
