#include "squad/finetune.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"
#include "base/rng_stream.h"
#include "base/strbuf.h"
#include "model/checkpoint.h"
#include "squad/evaluate.h"
#include "squad/postprocess.h"
#include "squad/runner.h"
#include "text/vocab.h"
#include "train/optimizer.h"
#include "train/run_checkpoint.h"
#include "train/run_model.h"
#include "train/schedule.h"

/* Features per logged evaluation step: the reference's validation micro-batch x 4 iterations. */
enum { EVAL_BATCHES_PER_STEP = 4 };

typedef struct squad_run {
  const bert_run_config *rc;
  const bert_dist *dist;
  char input_dir[4096], vocab_path[4096];
  int lower_case;
  bert_vocab vocab;
  bert_tokenizer *tok;
  bert_model model;
  bert_optimizer opt;
  int have_vocab, have_model, have_opt;
  bert_precision precision;
  int micro_per_update;
} squad_run;

static int leader(const squad_run *s) { return s->dist->rank == 0; }

/* ---------------------------------------------------------------- set-up */

/* The checkpoint's vocabulary and casing when it has a vocab.txt, else --vocab (#3's rule). */
static int open_tokenizer(squad_run *s, bert_error *err) {
  char candidate[4096] = "";
  if (s->input_dir[0]) bert_path_join(candidate, sizeof candidate, s->input_dir, "vocab.txt");
  if (candidate[0] && bert_path_exists(candidate)) snprintf(s->vocab_path, sizeof s->vocab_path, "%s", candidate);
  else bert_find_project_file(s->rc->vocab, s->vocab_path, sizeof s->vocab_path);
  int rc = bert_tokenizer_open(s->vocab_path, &s->vocab, &s->tok, &s->lower_case, err);
  if (rc) return bert_error_prefix(err, "vocabulary: ");
  s->have_vocab = 1;
  if (leader(s)) bert_log("Vocabulary: %s", s->vocab_path);
  if (s->vocab.size > s->rc->vocab_size)
    return bert_error_set(err, BERT_EINVAL, "%s holds %d tokens but the model's vocabulary size is %d", s->vocab_path,
                          s->vocab.size, s->rc->vocab_size);
  return BERT_OK;
}

static int build_model(squad_run *s, bert_error *err) {
  const bert_run_config *rc = s->rc;
  bert_config cfg;
  int r = bert_run_model_config(rc, "BertForQuestionAnswering", &cfg, err);
  if (!r) r = bert_model_create(&s->model, &cfg, BERT_PART_QA, err);
  bert_config_free(&cfg);
  if (r) return r;
  s->have_model = 1;
  bert_layout_init(&s->model.layout, &s->model.config, (uint64_t)rc->random_seed, BERT_PART_ALL, s->model.params);
  if (s->input_dir[0]) {
    if ((r = bert_run_load_weights(&s->model, s->input_dir, (uint64_t)rc->random_seed, leader(s), err))) return r;
  } else if (leader(s)) {
    bert_warn("checkpoint-input-dir was not specified; training with uninitialized BERT...");
  }
  r = bert_dist_broadcast(s->dist, s->model.params, s->model.layout.total * sizeof(float), 0, err);
  if (!r && rc->squad_do_training) r = bert_model_enable_grads(&s->model, err);
  /* int8 is for inference: the model trains (or waits for evaluation) in fp32 */
  if (!r) r = bert_model_set_precision(&s->model, s->precision == BERT_INT8 ? BERT_FP32 : s->precision, err);
  return r;
}

static int setup(squad_run *s, bert_error *err) {
  const bert_run_config *rc = s->rc;
  if (!strcmp(rc->precision, "fp16"))
    return bert_error_set(err, BERT_EINVAL, "--precision fp16 is for pretraining; bert squad takes fp32, bf16 or int8");
  if (bert_precision_parse(rc->precision, &s->precision))
    return bert_error_set(err, BERT_EINVAL, "--precision %s: expected fp32, bf16 or int8", rc->precision);
  if (s->precision == BERT_INT8 && rc->squad_do_training && leader(s))
    bert_log("Precision int8: fine-tuning in fp32, then evaluating with int8 encoder weights");
  if (rc->max_seq_length > 512)
    return bert_error_set(err, BERT_EINVAL, "--max-seq-length %d exceeds the 512 position embeddings", rc->max_seq_length);
  if (rc->squad_do_training && !(rc->train_file && rc->train_file[0]))
    return bert_error_set(err, BERT_EINVAL, "--train-file is required for training (SQuAD's train-v1.1.json or "
                                            "train-v2.0.json), or pass --squad-do-training False");
  if (rc->squad_do_validation && !(rc->predict_file && rc->predict_file[0]))
    return bert_error_set(err, BERT_EINVAL, "--predict-file is required for evaluation (SQuAD's dev-v1.1.json or "
                                            "dev-v2.0.json), or pass --squad-do-validation False");
  if (rc->n_best_size > BERT_SQUAD_MAX_NBEST)
    return bert_error_set(err, BERT_EINVAL, "--n-best-size %d: at most %d", rc->n_best_size, BERT_SQUAD_MAX_NBEST);
  int r = bert_run_micro_per_rank(rc, s->dist, &s->micro_per_update, err);
  const char *in = rc->checkpoint_input_dir;
  if (!r && in && in[0]) r = bert_run_checkpoint_resolve(in, s->input_dir, sizeof s->input_dir, err);
  if (!r) r = open_tokenizer(s, err);
  if (!r) r = build_model(s, err);
  return r;
}

static int load_features(squad_run *s, const char *path, bert_opt_id limit, bert_squad_dataset *ds,
                         bert_squad_features *f, bert_error *err) {
  int r = bert_squad_dataset_load(ds, path, err);
  if (r) return r;
  if (bert_run_config_has(s->rc, limit))
    bert_squad_dataset_truncate(ds, limit == BERT_OPT_MAX_TRAIN_SAMPLES ? s->rc->max_train_samples
                                                                         : s->rc->max_eval_samples);
  if (leader(s)) bert_squad_dataset_report(ds, path);
  if (ds->impossible_count && !s->rc->squad_v2 && leader(s))
    bert_warn("%s has %lld impossible questions (SQuAD 2.0) but --squad-v2 is not set", path,
              (long long)ds->impossible_count);
  bert_squad_feature_config fc = {s->rc->max_seq_length, s->rc->doc_stride};
  return bert_squad_features_build(f, ds, s->tok, &fc, err);
}

/* ---------------------------------------------------------------- training */

typedef struct trainer {
  squad_run *s;
  bert_squad_features *f;
  bert_squad_runner runner;
  int64_t *order;   /* the epoch's training features, shuffled */
  int64_t n;        /* training features */
  int64_t *step_rows; /* the step's samples: feature indices, -1 for padding */
  int64_t steps_per_epoch, total_steps;
} trainer;

static int training_order(trainer *t, bert_error *err) {
  t->order = malloc((size_t)(t->f->count ? t->f->count : 1) * sizeof *t->order);
  t->step_rows = malloc((size_t)t->s->rc->samples_per_step * sizeof *t->step_rows);
  if (!t->order || !t->step_rows) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  for (int64_t i = 0; i < t->f->count; i++)
    if (t->f->items[i].start_position >= 0) t->order[t->n++] = i;
  if (!t->n) return bert_error_set(err, BERT_EINVAL, "%s: no usable training feature", t->s->rc->train_file);
  int64_t per_step = t->s->rc->samples_per_step;
  t->steps_per_epoch = (t->n + per_step - 1) / per_step;
  t->total_steps = t->steps_per_epoch * t->s->rc->num_epochs;
  return BERT_OK;
}

/* One micro-batch: rows of the step [first, first + mbs); all-padding micro-batches add nothing
 * but still count in the mean gradient (the reference's mean over accumulated micro-batches). */
static int micro_batch(trainer *t, int64_t global_micro, int64_t first, double *loss_sum, double *loss_count,
                       bert_error *err) {
  const bert_run_config *rc = t->s->rc;
  const int64_t *rows = t->step_rows + first;
  int real = 0;
  for (int i = 0; i < rc->micro_batch_size; i++) real += rows[i] >= 0;
  if (!real) return BERT_OK;
  bert_rng dropout = bert_rng_make((uint64_t)rc->random_seed, BERT_RNG_DROPOUT, (uint64_t)global_micro, 0);
  int r = bert_squad_runner_forward(&t->runner, t->f, rows, rc->micro_batch_size, 1, 1, dropout, err);
  if (r) return r;
  *loss_sum += t->runner.ws.out.loss;
  *loss_count += 1;
  return bert_squad_runner_backward(&t->runner, 1.0f, err);
}

static int weight_update(trainer *t, int64_t step_in_run, int u, double lr, double *sums, bert_error *err) {
  squad_run *s = t->s;
  const bert_run_config *rc = s->rc;
  int64_t per_update = (int64_t)rc->replication_factor * rc->gradient_accumulation;
  bert_model_zero_grads(&s->model);
  int r = BERT_OK;
  for (int j = 0; !r && j < s->micro_per_update; j++) {
    int64_t micro = s->dist->rank + (int64_t)s->dist->world * j; /* ranks take micro-batches r, r + W, ... */
    int64_t first = ((int64_t)u * per_update + micro) * rc->micro_batch_size;
    int64_t global = (step_in_run * rc->device_iterations + u) * per_update + micro;
    r = micro_batch(t, global, first, &sums[0], &sums[1], err);
  }
  if ((r = bert_dist_agree(s->dist, r, err))) return r;
  if ((r = bert_dist_allreduce_mean(s->dist, s->model.grads, s->model.layout.total, err))) return r;
  bert_optimizer_step(&s->opt, s->model.params, s->model.grads, 1.0f / (float)s->micro_per_update, (float)lr);
  if (s->precision == BERT_BF16) bert_model_sync_bf16(&s->model);
  return BERT_OK;
}

static double lr_at(const trainer *t, int64_t step) {
  return t->s->rc->learning_rate * bert_lr_multiplier(BERT_LR_LINEAR, step, t->total_steps, t->s->rc->lr_warmup);
}

static int train_step(trainer *t, int epoch, int64_t step, int64_t step_in_run, bert_error *err) {
  const bert_run_config *rc = t->s->rc;
  int64_t per_step = rc->samples_per_step, real = 0;
  for (int64_t i = 0; i < per_step; i++) {
    int64_t k = step * per_step + i;
    t->step_rows[i] = k < t->n ? t->order[k] : -1; /* the last step is padded */
    real += k < t->n;
  }
  double t0 = bert_seconds(), lr = lr_at(t, step_in_run), sums[2] = {0, 0};
  int r = BERT_OK;
  for (int u = 0; !r && u < rc->device_iterations; u++) r = weight_update(t, step_in_run, u, lr, sums, err);
  if (!r) r = bert_dist_allreduce_sum(t->s->dist, sums, 2, err);
  if (r || !leader(t->s)) return r;
  double seconds = bert_seconds() - t0;
  /* the reference logs after its scheduler stepped: the next step's rate. Throughput counts the
   * real samples: the padded last step skips its empty micro-batches */
  bert_log("Epoch: %d, Step:%lld, LR=%.2e, loss: %3.3f, throughput: %3.3f samples/sec", epoch, (long long)step,
           lr_at(t, step_in_run + 1), sums[1] > 0 ? sums[0] / sums[1] : 0.0, (double)real / seconds);
  return BERT_OK;
}

static int train_epochs(trainer *t, bert_error *err) {
  const bert_run_config *rc = t->s->rc;
  int r = BERT_OK;
  for (int epoch = 0; !r && epoch < rc->num_epochs; epoch++) {
    bert_rng_stream shuffle = bert_rng_stream_make(bert_rng_make((uint64_t)rc->random_seed, BERT_RNG_DATA, (uint64_t)epoch, 0));
    bert_rng_stream_shuffle(&shuffle, t->order, (size_t)t->n, sizeof *t->order);
    for (int64_t step = 0; !r && step < t->steps_per_epoch; step++)
      r = train_step(t, epoch, step, epoch * t->steps_per_epoch + step, err);
  }
  return r;
}

static int build_optimizer(squad_run *s, bert_error *err) {
  bert_optimizer_config oc;
  bert_optimizer_config_defaults(&oc);
  int r = bert_optimizer_kind_parse(s->rc->optimizer, &oc.kind, err);
  if (r) return r;
  oc.weight_decay = s->rc->weight_decay;
  r = bert_optimizer_create(&s->opt, &s->model.layout, &oc, err);
  s->have_opt = r == BERT_OK;
  return r;
}

static int save_model(squad_run *s, bert_error *err) {
  int r = BERT_OK;
  if (leader(s)) {
    char dir[4096];
    bert_path_join(dir, sizeof dir, s->rc->output_dir, "model");
    bert_log("Saving the fine-tuned model to %s", dir);
    r = bert_checkpoint_save_whole(&s->model, dir, s->vocab_path, s->lower_case, err);
  }
  return bert_dist_agree(s->dist, r, err);
}

static int fine_tune(squad_run *s, bert_error *err) {
  const bert_run_config *rc = s->rc;
  bert_squad_dataset ds;
  bert_squad_features f;
  trainer t = {.s = s, .f = &f};
  double t0 = bert_seconds();
  int r = load_features(s, rc->train_file, BERT_OPT_MAX_TRAIN_SAMPLES, &ds, &f, err);
  if (r) return r;
  if (!(r = training_order(&t, err)) && leader(s))
    bert_log("Training: %lld examples, %lld features (%lld usable), %lld steps of %lld samples x %d epochs; data "
             "ready in %.3f secs", (long long)ds.count, (long long)f.count, (long long)t.n, (long long)t.steps_per_epoch,
             rc->samples_per_step, rc->num_epochs, bert_seconds() - t0);
  if (!r) r = build_optimizer(s, err);
  if (!r) r = bert_squad_runner_create(&t.runner, &s->model, rc->micro_batch_size, rc->max_seq_length, 1, err);
  double start = bert_seconds();
  if (!r) r = train_epochs(&t, err);
  if (!r && leader(s)) bert_log("Training time: %.3f secs", bert_seconds() - start);
  if (t.runner.model) bert_squad_runner_free(&t.runner);
  free(t.order);
  free(t.step_rows);
  bert_squad_features_free(&f);
  bert_squad_dataset_free(&ds);
  if (!r) r = save_model(s, err);
  return r;
}

/* ---------------------------------------------------------------- evaluation */

/* Logits of every feature; rank r computes evaluation steps r, r + W, ... and the rows are summed
 * over the ranks (each row is filled by one rank, zeros elsewhere). */
static int all_logits(squad_run *s, const bert_squad_features *f, float *start, float *end, bert_error *err) {
  const bert_run_config *rc = s->rc;
  bert_squad_runner runner;
  int r = bert_squad_runner_create(&runner, &s->model, rc->inference_batch_size, f->seq_len, 0, err);
  if (r) return r;
  int64_t per_step = (int64_t)rc->inference_batch_size * EVAL_BATCHES_PER_STEP;
  int64_t steps = (f->count + per_step - 1) / per_step;
  for (int64_t step = s->dist->rank; !r && step < steps; step += s->dist->world) {
    double t0 = bert_seconds();
    int64_t first = step * per_step, n = f->count - first < per_step ? f->count - first : per_step;
    r = bert_squad_runner_logits(&runner, f, first, n, start + first * f->seq_len, end + first * f->seq_len,
                                 f->seq_len, err);
    if (!r && leader(s)) {
      char tp[64];
      bert_squad_format_double((double)(n * s->dist->world) / (bert_seconds() - t0), tp, sizeof tp);
      bert_log("Step:%lld, throughput: %s samples/sec", (long long)step, tp);
    }
  }
  bert_squad_runner_free(&runner);
  if ((r = bert_dist_agree(s->dist, r, err))) return r;
  size_t cells = (size_t)f->count * (size_t)f->seq_len;
  if (!(r = bert_dist_allreduce_sum_float(s->dist, start, cells, err)))
    r = bert_dist_allreduce_sum_float(s->dist, end, cells, err);
  return r;
}

/* The official scores of the predictions against the questions evaluated (all of the file's, or
 * the first --max-eval-samples). */
static int write_metrics(squad_run *s, const bert_squad_dataset *ds, const char *predictions, bert_error *err) {
  bert_squad_scores scores;
  char *data = bert_squad_dataset_json(ds), *pred = NULL;
  size_t pred_len = 0;
  int r = data ? bert_file_read(predictions, &pred, &pred_len, err) : bert_error_set(err, BERT_ENOMEM, "out of memory");
  if (!r) r = bert_squad_evaluate_text(data, strlen(data), s->rc->predict_file, pred, pred_len, predictions,
                                       s->rc->squad_v2, &scores, NULL, err);
  free(data);
  free(pred);
  if (r) return r;
  bert_strbuf json = {0};
  bert_squad_scores_json(&scores, &json);
  bert_log("%s", json.data);
  bert_strbuf_printf(&json, "\n");
  char path[4096];
  bert_path_join(path, sizeof path, s->rc->output_dir, "metrics.json");
  r = json.failed ? bert_error_set(err, BERT_ENOMEM, "out of memory") : bert_file_write_atomic(path, json.data, json.len, err);
  bert_strbuf_free(&json);
  return r;
}

static int predict(squad_run *s, const bert_squad_features *f, const float *start, const float *end, bert_error *err) {
  const bert_run_config *rc = s->rc;
  char pred[4096], nbest[4096];
  bert_path_join(pred, sizeof pred, rc->output_dir, "predictions.json");
  bert_path_join(nbest, sizeof nbest, rc->output_dir, "nbest_predictions.json");
  bert_log("Post-processing %lld example predictions split into %lld features.", (long long)f->ds->count,
           (long long)f->count);
  bert_squad_post_config pc = {rc->n_best_size, rc->max_answer_length, rc->squad_v2};
  int r = bert_output_dir_prepare(rc->output_dir, err);
  if (!r) r = bert_squad_write_predictions(f, start, end, f->seq_len, &pc, pred, nbest, err);
  if (!r) bert_log("Wrote %s and %s", pred, nbest);
  return r ? r : write_metrics(s, f->ds, pred, err);
}

static int evaluate(squad_run *s, bert_error *err) {
  bert_squad_dataset ds;
  bert_squad_features f;
  int r = load_features(s, s->rc->predict_file, BERT_OPT_MAX_EVAL_SAMPLES, &ds, &f, err);
  if (r) return r;
  size_t cells = (size_t)f.count * (size_t)f.seq_len;
  float *start = calloc(cells ? cells : 1, sizeof *start), *end = calloc(cells ? cells : 1, sizeof *end);
  if (!start || !end) r = bert_error_set(err, BERT_ENOMEM, "out of memory for %lld features' logits", (long long)f.count);
  if (!r && s->precision == BERT_INT8) r = bert_model_set_precision(&s->model, BERT_INT8, err);
  /* the weights are final: packed for the evaluation batches */
  if (!r) r = bert_model_pack_weights(&s->model, (int64_t)s->rc->inference_batch_size * f.seq_len, 0, err);
  double t0 = bert_seconds();
  if (!r) r = all_logits(s, &f, start, end, err);
  if (!r && leader(s)) {
    bert_log("Inference time: %.3f secs for %lld features", bert_seconds() - t0, (long long)f.count);
    r = predict(s, &f, start, end, err);
  }
  r = bert_dist_agree(s->dist, r, err);
  free(start);
  free(end);
  bert_squad_features_free(&f);
  bert_squad_dataset_free(&ds);
  return r;
}

/* ---------------------------------------------------------------- run */

static void run_free(squad_run *s) {
  if (s->tok) bert_tokenizer_free(s->tok);
  if (s->have_vocab) bert_vocab_free(&s->vocab);
  if (s->have_opt) bert_optimizer_free(&s->opt);
  if (s->have_model) bert_model_free(&s->model);
}

int bert_squad_run(const bert_run_config *rc, const bert_dist *dist, bert_error *err) {
  squad_run s;
  memset(&s, 0, sizeof s);
  s.rc = rc, s.dist = dist;
  int r = bert_dist_agree(dist, setup(&s, err), err);
  if (!r && rc->squad_do_training) r = fine_tune(&s, err);
  if (!r && rc->squad_do_validation) r = evaluate(&s, err);
  run_free(&s);
  return r;
}
