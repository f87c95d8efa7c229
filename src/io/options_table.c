/* io/options_table: every option of `bert pretrain` / `bert squad` — the reference's args.py
 * options (same names, types, argparse defaults) plus bertc's own — and the field helpers. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/options_internal.h"

#define F(field) offsetof(bert_run_config, field)

static const char *const optimizer_choices[] = {"AdamW", "LAMB", "LAMBNoBiasCorrection", NULL};
static const char *const schedule_choices[] = {"constant", "linear", NULL};
static const char *const dataset_choices[] = {"generated", "pretraining", NULL};
/* configs/squad.yml says `dataset: squad` (argparse never checks YAML values against choices;
 * we do, so SQuAD's value is allowed there). */
static const char *const squad_dataset_choices[] = {"generated", "pretraining", "squad", NULL};
static const char *const pack_choices[] = {"2", "3", NULL};
static const char *const precision_choices[] = {"fp32", "bf16", "fp16", "int8", NULL};

const char *const bert_opt_group_title[GROUP_COUNT] = {
    [GROUP_CONFIG] = "configuration",   [GROUP_EXECUTION] = "execution", [GROUP_OPTIMIZER] = "optimizer",
    [GROUP_MODEL] = "model",            [GROUP_DATASET] = "dataset",     [GROUP_MISC] = "misc",
    [GROUP_CHECKPOINT] = "checkpointing", [GROUP_BERTC] = "bertc (CPU) options",
};

#define INT(grp, field, ...) .type = OPT_INT, .group = grp, .offset = F(field), __VA_ARGS__
#define FLT(grp, field, ...) .type = OPT_FLOAT, .group = grp, .offset = F(field), __VA_ARGS__
#define BOOL(grp, field, d, ...) .type = OPT_BOOL, .group = grp, .offset = F(field), .def = d, __VA_ARGS__
#define STR(grp, field, ...) .type = OPT_STRING, .group = grp, .offset = F(field), __VA_ARGS__
#define CHOICE(grp, field, c, ...) .type = OPT_CHOICE, .group = grp, .offset = F(field), .choices = c, __VA_ARGS__
#define OPT(id, n, d) [id] = {.name = n, .dest = d

const bert_opt_def bert_opt_table[BERT_OPT_COUNT] = {
    /* configuration */
    OPT(BERT_OPT_CONFIG, "config", "config"), STR(GROUP_CONFIG, config, .def = "demo_tiny_128",
        .help = "name of the configuration: a section of the YAML file")},
    OPT(BERT_OPT_CONFIG_FILE, "config-file", "config_file"), STR(GROUP_CONFIG, config_file, .flags = OPTF_BERTC,
        .help = "YAML file of the named configurations")},

    /* execution */
    OPT(BERT_OPT_MICRO_BATCH_SIZE, "micro-batch-size", "micro_batch_size"), INT(GROUP_EXECUTION, micro_batch_size,
        .min = 1, .help = "samples in one forward/backward pass of one replica")},
    OPT(BERT_OPT_TRAINING_STEPS, "training-steps", "training_steps"), INT(GROUP_EXECUTION, training_steps,
        .flags = OPTF_PRETRAIN_ONLY, .help = "logged steps to train (each is device-iterations weight updates)")},
    OPT(BERT_OPT_DEVICE_ITERATIONS, "device-iterations", "device_iterations"), INT(GROUP_EXECUTION,
        device_iterations, .min = 1, .help = "weight updates per logged step (the learning rate is constant within it)")},
    OPT(BERT_OPT_REPLICATION_FACTOR, "replication-factor", "replication_factor"), INT(GROUP_EXECUTION,
        replication_factor, .min = 1, .help = "data-parallel replicas in total (spread over the MPI ranks)")},
    OPT(BERT_OPT_GRADIENT_ACCUMULATION, "gradient-accumulation", "gradient_accumulation"), INT(GROUP_EXECUTION,
        gradient_accumulation, .min = 1, .help = "micro batches whose gradients are averaged before a weight update")},
    OPT(BERT_OPT_EMBEDDING_SERIALIZATION_FACTOR, "embedding-serialization-factor", "embedding_serialization_factor"),
        INT(GROUP_EXECUTION, embedding_serialization_factor, .min = 1, .flags = OPTF_NO_CPU_EFFECT,
        .help = "IPU: split the vocabulary-sized matmul into this many pieces (numerically neutral)")},
    OPT(BERT_OPT_RECOMPUTE_CHECKPOINT_EVERY_LAYER, "recompute-checkpoint-every-layer",
        "recompute_checkpoint_every_layer"), BOOL(GROUP_EXECUTION, recompute_checkpoint_every_layer, "False",
        .flags = OPTF_NO_CPU_EFFECT, .help = "IPU: recompute activations from a checkpoint at every encoder layer")},
    OPT(BERT_OPT_ENABLE_HALF_PARTIALS, "enable-half-partials", "enable_half_partials"), BOOL(GROUP_EXECUTION,
        enable_half_partials, "False", .flags = OPTF_NO_CPU_EFFECT,
        .help = "IPU: accumulate matmul partial sums in fp16")},
    OPT(BERT_OPT_OPTIMIZER_STATE_OFFCHIP, "optimizer-state-offchip", "optimizer_state_offchip"), BOOL(GROUP_EXECUTION,
        optimizer_state_offchip, "True", .flags = OPTF_NO_CPU_EFFECT,
        .help = "IPU: keep the optimizer state in off-chip memory")},
    OPT(BERT_OPT_REPLICATED_TENSOR_SHARDING, "replicated-tensor-sharding", "replicated_tensor_sharding"),
        BOOL(GROUP_EXECUTION, replicated_tensor_sharding, "False", .flags = OPTF_NO_CPU_EFFECT,
        .help = "IPU: shard the optimizer state across replicas")},
    OPT(BERT_OPT_IPUS_PER_REPLICA, "ipus-per-replica", "ipus_per_replica"), INT(GROUP_EXECUTION, ipus_per_replica,
        .min = 1, .flags = OPTF_NO_CPU_EFFECT, .help = "IPU: pipeline stages (IPUs) per replica")},
    OPT(BERT_OPT_LAYERS_PER_IPU, "layers-per-ipu", "layers_per_ipu"), .type = OPT_INT_LIST,
        .group = GROUP_EXECUTION, .offset = F(layers_per_ipu), .flags = OPTF_NO_CPU_EFFECT,
        .help = "IPU: encoder layers on each IPU, one number per IPU or one number for all; "
                "must add up to num-hidden-layers"},
    OPT(BERT_OPT_MATMUL_PROPORTION, "matmul-proportion", "matmul_proportion"), .type = OPT_FLOAT_LIST,
        .group = GROUP_EXECUTION, .offset = F(matmul_proportion), .flags = OPTF_NO_CPU_EFFECT,
        .help = "IPU: memory proportion for matmuls, one per IPU or one for all"},
    OPT(BERT_OPT_ASYNC_DATALOADER, "async-dataloader", "async_dataloader"), BOOL(GROUP_EXECUTION, async_dataloader,
        "True", .help = "load data in background threads while the model computes")},
    OPT(BERT_OPT_RANDOM_SEED, "random-seed", "random_seed"), INT(GROUP_EXECUTION, random_seed,
        .help = "seed of every random choice (initialisation, dropout, data order)")},
    OPT(BERT_OPT_NUM_EPOCHS, "num-epochs", "num_epochs"), INT(GROUP_EXECUTION, num_epochs, .flags = OPTF_SQUAD_ONLY,
        .help = "training epochs")},

    /* optimizer */
    OPT(BERT_OPT_OPTIMIZER, "optimizer", "optimizer"), CHOICE(GROUP_OPTIMIZER, optimizer, optimizer_choices,
        .help = "optimizer")},
    OPT(BERT_OPT_LEARNING_RATE, "learning-rate", "learning_rate"), FLT(GROUP_OPTIMIZER, learning_rate, .lo = 0,
        .bounds = BOUND_LO, .help = "learning rate: the constant one, or the peak of the linear schedule")},
    OPT(BERT_OPT_LR_SCHEDULE, "lr-schedule", "lr_schedule"), CHOICE(GROUP_OPTIMIZER, lr_schedule, schedule_choices,
        .flags = OPTF_PRETRAIN_ONLY, .help = "learning-rate schedule (SQuAD always uses linear)")},
    OPT(BERT_OPT_LR_WARMUP, "lr-warmup", "lr_warmup"), FLT(GROUP_OPTIMIZER, lr_warmup, .lo = 0, .hi = 1,
        .bounds = BOUND_LO | BOUND_HI, .help = "fraction of the steps spent warming up, in [0, 1]")},
    OPT(BERT_OPT_AUTO_LOSS_SCALING, "auto-loss-scaling", "auto_loss_scaling"), BOOL(GROUP_OPTIMIZER,
        auto_loss_scaling, "False", .help = "adjust the loss scale automatically (only with --precision fp16)")},
    OPT(BERT_OPT_LOSS_SCALING, "loss-scaling", "loss_scaling"), FLT(GROUP_OPTIMIZER, loss_scaling, .lo = 0,
        .bounds = BOUND_LO | BOUND_LO_OPEN,
        .help = "loss scale (a power of 2), the initial one with automatic loss scaling; unset means 1")},
    OPT(BERT_OPT_WEIGHT_DECAY, "weight-decay", "weight_decay"), FLT(GROUP_OPTIMIZER, weight_decay, .lo = 0,
        .bounds = BOUND_LO, .help = "weight decay of the weights that are not biases or 1-D")},
    OPT(BERT_OPT_ENABLE_HALF_FIRST_ORDER_MOMENTUM, "enable-half-first-order-momentum",
        "enable_half_first_order_momentum"), BOOL(GROUP_OPTIMIZER, enable_half_first_order_momentum, "False",
        .flags = OPTF_NO_CPU_EFFECT, .help = "IPU: store the optimizer's first moment in fp16")},
    OPT(BERT_OPT_SQUAD_DO_TRAINING, "squad-do-training", "squad_do_training"), BOOL(GROUP_OPTIMIZER,
        squad_do_training, "True", .flags = OPTF_SQUAD_ONLY, .help = "fine-tune")},
    OPT(BERT_OPT_SQUAD_DO_VALIDATION, "squad-do-validation", "squad_do_validation"), BOOL(GROUP_OPTIMIZER,
        squad_do_validation, "True", .flags = OPTF_SQUAD_ONLY, .help = "evaluate")},

    /* model */
    OPT(BERT_OPT_SEQUENCE_LENGTH, "sequence-length", "sequence_length"), INT(GROUP_MODEL, sequence_length, .min = 1,
        .help = "tokens per sequence (pack)")},
    OPT(BERT_OPT_MASK_TOKENS, "mask-tokens", "mask_tokens"), INT(GROUP_MODEL, mask_tokens,
        .help = "masked positions per sequence in the data (the length of masked_lm_*)")},
    OPT(BERT_OPT_VOCAB_SIZE, "vocab-size", "vocab_size"), INT(GROUP_MODEL, vocab_size, .min = 1,
        .help = "vocabulary size")},
    OPT(BERT_OPT_HIDDEN_SIZE, "hidden-size", "hidden_size"), INT(GROUP_MODEL, hidden_size, .min = 1,
        .help = "hidden width")},
    OPT(BERT_OPT_INTERMEDIATE_SIZE, "intermediate-size", "intermediate_size"), INT(GROUP_MODEL, intermediate_size,
        .min = 1, .help = "ignored, as in the reference: always 4 x hidden-size")},
    OPT(BERT_OPT_NUM_HIDDEN_LAYERS, "num-hidden-layers", "num_hidden_layers"), INT(GROUP_MODEL, num_hidden_layers,
        .min = 1, .help = "encoder layers")},
    OPT(BERT_OPT_NUM_ATTENTION_HEADS, "num-attention-heads", "num_attention_heads"), INT(GROUP_MODEL,
        num_attention_heads, .min = 1, .help = "attention heads")},
    OPT(BERT_OPT_LAYER_NORM_EPS, "layer-norm-eps", "layer_norm_eps"), FLT(GROUP_MODEL, layer_norm_eps, .lo = 0,
        .bounds = BOUND_LO | BOUND_LO_OPEN, .help = "epsilon of every LayerNorm")},
    OPT(BERT_OPT_ATTENTION_PROBS_DROPOUT_PROB, "attention-probs-dropout-prob", "attention_probs_dropout_prob"),
        .type = OPT_OPT_FLOAT, .group = GROUP_MODEL, .offset = F(attention_probs_dropout_prob), .lo = 0, .hi = 1,
        .bounds = BOUND_LO | BOUND_HI, .konst = 1.0,
        .help = "dropout of the attention probabilities (the bare flag means 1.0, as in the reference)"},

    /* dataset */
    OPT(BERT_OPT_INPUT_FILES, "input-files", "input_files"), .type = OPT_STRING_LIST, .group = GROUP_DATASET,
        .offset = F(input_files), .flags = OPTF_PRETRAIN_ONLY,
        .help = "pretraining TFRecord files or globs (each must match; quote globs)"},
    OPT(BERT_OPT_DATASET, "dataset", "dataset"), CHOICE(GROUP_DATASET, dataset, dataset_choices,
        .squad_choices = squad_dataset_choices,
        .help = "pretraining: the files; generated: one random sample repeated, no I/O")},
    OPT(BERT_OPT_SYNTHETIC_DATA, "synthetic-data", "synthetic_data"), BOOL(GROUP_DATASET, synthetic_data, "False",
        .help = "random inputs made in memory, no I/O")},
    OPT(BERT_OPT_SQUAD_V2, "squad-v2", "squad_v2"), BOOL(GROUP_DATASET, squad_v2, "False", .flags = OPTF_SQUAD_ONLY,
        .help = "use SQuAD 2.0")},
    OPT(BERT_OPT_PACKED_DATA, "packed-data", "packed_data"), BOOL(GROUP_DATASET, packed_data, "False",
        .flags = OPTF_PRETRAIN_ONLY,
        .help = "packed data and model; gradient accumulation is divided by the packing factor")},
    OPT(BERT_OPT_PACKING_FACTOR, "packing-factor", "packing_factor"), .type = OPT_DICT, .group = GROUP_DATASET,
        .offset = F(packing_factor), .flags = OPTF_PRETRAIN_ONLY,
        .help = "average sequences per pack by sequence length, e.g. '{128: 1.17, 512: 2.0}'"},
    OPT(BERT_OPT_MAX_SEQUENCES_PER_PACK, "max-sequences-per-pack", "max_sequences_per_pack"), INT(GROUP_DATASET,
        max_sequences_per_pack, .def = "3", .choices = pack_choices, .flags = OPTF_PRETRAIN_ONLY,
        .help = "most sequences in a pack (as the packed data was made)")},

    /* misc */
    OPT(BERT_OPT_DATALOADER_WORKERS, "dataloader-workers", "dataloader_workers"), INT(GROUP_MISC, dataloader_workers,
        .flags = OPTF_PRETRAIN_ONLY, .help = "data-loader threads (0: load in the training thread)")},
    OPT(BERT_OPT_PROFILE_DIR, "profile-dir", "profile_dir"), STR(GROUP_MISC, profile_dir,
        .flags = OPTF_NO_CPU_EFFECT, .help = "IPU: write a PopVision profile into this folder")},
    OPT(BERT_OPT_CUSTOM_OPS, "custom-ops", "custom_ops"), BOOL(GROUP_MISC, custom_ops, "True",
        .flags = OPTF_NO_CPU_EFFECT, .help = "IPU: load the custom PopART pattern")},
    OPT(BERT_OPT_WANDB, "wandb", "wandb"), BOOL(GROUP_MISC, wandb, "False",
        .help = "log to Weights & Biases (not supported by bertc: see --metrics-file)")},
    OPT(BERT_OPT_WANDB_PARAM_STEPS, "wandb-param-steps", "wandb_param_steps"), INT(GROUP_MISC, wandb_param_steps,
        .flags = OPTF_PRETRAIN_ONLY, .help = "log parameter statistics to Weights & Biases every n steps")},
    OPT(BERT_OPT_DISABLE_PROGRESS_BAR, "disable-progress-bar", "disable_progress_bar"), BOOL(GROUP_MISC,
        disable_progress_bar, "False", .help = "one parseable log line per step instead of a progress bar")},
    OPT(BERT_OPT_COMPILE_ONLY, "compile-only", "compile_only"), .type = OPT_FLAG, .group = GROUP_MISC,
        .offset = F(compile_only), .def = "False", .flags = OPTF_NO_CPU_EFFECT,
        .help = "IPU: compile for an offline target and exit"},
    OPT(BERT_OPT_EXECUTABLE_CACHE_DIR, "executable-cache-dir", "executable_cache_dir"), STR(GROUP_MISC,
        executable_cache_dir, .def = "", .flags = OPTF_NO_CPU_EFFECT, .help = "IPU: cache compiled executables here")},

    /* checkpointing */
    OPT(BERT_OPT_CHECKPOINT_OUTPUT_DIR, "checkpoint-output-dir", "checkpoint_output_dir"), STR(GROUP_CHECKPOINT,
        checkpoint_output_dir, .def = "", .flags = OPTF_PRETRAIN_ONLY,
        .help = "write step_N/ checkpoints here (empty: none)")},
    OPT(BERT_OPT_CHECKPOINT_STEPS, "checkpoint-steps", "checkpoint_steps"), INT(GROUP_CHECKPOINT, checkpoint_steps,
        .flags = OPTF_PRETRAIN_ONLY | OPTF_ANY_INT, .help = "also checkpoint every n steps (n >= 1)")},
    OPT(BERT_OPT_RESUME_TRAINING_FROM_CHECKPOINT, "resume-training-from-checkpoint",
        "resume_training_from_checkpoint"), BOOL(GROUP_CHECKPOINT, resume_training_from_checkpoint, "False",
        .flags = OPTF_PRETRAIN_ONLY,
        .help = "also restore the optimizer, schedule, loss scale and data position of --checkpoint-input-dir")},
    OPT(BERT_OPT_CHECKPOINT_INPUT_DIR, "checkpoint-input-dir", "checkpoint_input_dir"), STR(GROUP_CHECKPOINT,
        checkpoint_input_dir, .def = "", .alias = "pretrained-checkpoint",
        .help = "start from these weights: a step_N folder, a folder of them (the highest step) or a "
                "HuggingFace model folder (alias --pretrained-checkpoint)")},

    /* bertc */
    OPT(BERT_OPT_VOCAB, "vocab", "vocab"), STR(GROUP_BERTC, vocab, .def = "data/vocab.txt", .flags = OPTF_BERTC,
        .help = "WordPiece vocabulary (vocab.txt), copied into every checkpoint")},
    OPT(BERT_OPT_PRECISION, "precision", "precision"), CHOICE(GROUP_BERTC, precision, precision_choices,
        .def = "fp32", .flags = OPTF_BERTC,
        .help = "fp32; bf16 matrix products (fp32 weights, norms and optimizer); fp16 gradients with loss scaling "
                "(pretraining); int8 encoder products for SQuAD evaluation (fine-tuning stays fp32)")},
    OPT(BERT_OPT_THREADS, "threads", "threads"), INT(GROUP_BERTC, threads, .min = 1, .flags = OPTF_BERTC,
        .help = "compute threads per rank (unset: all cores)")},
    OPT(BERT_OPT_METRICS_FILE, "metrics-file", "metrics_file"), STR(GROUP_BERTC, metrics_file,
        .flags = OPTF_BERTC | OPTF_PRETRAIN_ONLY,
        .help = "JSON lines of per-step metrics (unset: metrics.jsonl in --checkpoint-output-dir)")},

    /* bertc, SQuAD */
    OPT(BERT_OPT_TRAIN_FILE, "train-file", "train_file"), STR(GROUP_BERTC, train_file,
        .flags = OPTF_BERTC | OPTF_SQUAD_ONLY, .help = "SQuAD training data (train-v1.1.json or train-v2.0.json)")},
    OPT(BERT_OPT_PREDICT_FILE, "predict-file", "predict_file"), STR(GROUP_BERTC, predict_file,
        .flags = OPTF_BERTC | OPTF_SQUAD_ONLY, .help = "SQuAD evaluation data (dev-v1.1.json or dev-v2.0.json)")},
    OPT(BERT_OPT_OUTPUT_DIR, "output-dir", "output_dir"), STR(GROUP_BERTC, output_dir, .def = "squad_output",
        .flags = OPTF_BERTC | OPTF_SQUAD_ONLY,
        .help = "where predictions.json, nbest_predictions.json, metrics.json and model/ are written")},
    OPT(BERT_OPT_MAX_SEQ_LENGTH, "max-seq-length", "max_seq_length"), INT(GROUP_BERTC, max_seq_length, .def = "384",
        .min = 8, .flags = OPTF_BERTC | OPTF_SQUAD_ONLY, .help = "tokens per SQuAD feature (question + context window)")},
    OPT(BERT_OPT_DOC_STRIDE, "doc-stride", "doc_stride"), INT(GROUP_BERTC, doc_stride, .def = "128",
        .flags = OPTF_BERTC | OPTF_SQUAD_ONLY, .help = "context tokens shared by consecutive windows")},
    OPT(BERT_OPT_N_BEST_SIZE, "n-best-size", "n_best_size"), INT(GROUP_BERTC, n_best_size, .def = "20", .min = 1,
        .flags = OPTF_BERTC | OPTF_SQUAD_ONLY, .help = "start and end candidates per feature, and n-best list length")},
    OPT(BERT_OPT_MAX_ANSWER_LENGTH, "max-answer-length", "max_answer_length"), INT(GROUP_BERTC, max_answer_length,
        .def = "30", .min = 1, .flags = OPTF_BERTC | OPTF_SQUAD_ONLY, .help = "longest answer in tokens")},
    OPT(BERT_OPT_INFERENCE_BATCH_SIZE, "inference-batch-size", "inference_batch_size"), INT(GROUP_BERTC,
        inference_batch_size, .def = "20", .min = 1, .flags = OPTF_BERTC | OPTF_SQUAD_ONLY,
        .help = "features per forward pass in evaluation")},
    OPT(BERT_OPT_HIDDEN_DROPOUT_PROB, "hidden-dropout-prob", "hidden_dropout_prob"), FLT(GROUP_BERTC,
        hidden_dropout_prob, .def = "0.1", .lo = 0, .hi = 1, .bounds = BOUND_LO | BOUND_HI, .flags = OPTF_BERTC,
        .help = "dropout of the embeddings and of every layer's outputs (HF's hidden_dropout_prob)")},
    OPT(BERT_OPT_MAX_TRAIN_SAMPLES, "max-train-samples", "max_train_samples"), INT(GROUP_BERTC, max_train_samples,
        .min = 1, .flags = OPTF_BERTC | OPTF_SQUAD_ONLY,
        .help = "train on the first N questions only (HF run_qa's option; unset: all)")},
    OPT(BERT_OPT_MAX_EVAL_SAMPLES, "max-eval-samples", "max_eval_samples"), INT(GROUP_BERTC, max_eval_samples,
        .min = 1, .flags = OPTF_BERTC | OPTF_SQUAD_ONLY,
        .help = "evaluate on the first N questions only (the metrics then cover those; unset: all)")},
};

const char *bert_run_option_name(bert_opt_id id) {
  return (unsigned)id < BERT_OPT_COUNT ? bert_opt_table[id].dest : NULL;
}

const char *bert_program_name(bert_program program) { return program == BERT_PROGRAM_SQUAD ? "squad" : "pretrain"; }

bool bert_run_config_has(const bert_run_config *cfg, bert_opt_id id) {
  return (unsigned)id < BERT_OPT_COUNT && cfg->is_set[id];
}

const char *const *bert_opt_choices(const bert_opt_def *d, bert_program program) {
  return program == BERT_PROGRAM_SQUAD && d->squad_choices ? d->squad_choices : d->choices;
}

void bert_opt_clear(bert_run_config *cfg, const bert_opt_def *d) {
  void *f = opt_field(cfg, d);
  switch (d->type) {
    case OPT_STRING:
    case OPT_CHOICE:
      free(*(char **)f);
      *(char **)f = NULL;
      break;
    case OPT_STRING_LIST: bert_strlist_free(f); break;
    case OPT_INT: *(int *)f = 0; break;
    case OPT_FLOAT:
    case OPT_OPT_FLOAT: *(double *)f = 0; break;
    case OPT_BOOL:
    case OPT_FLAG: *(bool *)f = false; break;
    case OPT_INT_LIST: ((bert_run_int_list *)f)->count = 0; break;
    case OPT_FLOAT_LIST: ((bert_run_float_list *)f)->count = 0; break;
    case OPT_DICT: ((bert_run_dict *)f)->count = 0; break;
  }
}

/* Python's float repr: the fewest significant digits that read back exactly; positional
 * notation for exponents in [-4, 16), scientific otherwise ("1e-05", "1e+16"). */
void bert_py_float(double v, bert_strbuf *out) {
  if (!isfinite(v)) {
    bert_strbuf_puts(out, isnan(v) ? "nan" : v < 0 ? "-inf" : "inf");
    return;
  }
  char sci[40];
  int prec = 1;
  for (; prec <= 17; prec++) {
    snprintf(sci, sizeof sci, "%.*e", prec - 1, v);
    if (strtod(sci, NULL) == v) break;
  }
  char digits[24];
  int nd = 0, neg = sci[0] == '-';
  const char *p = sci + neg;
  for (; *p && *p != 'e'; p++)
    if (*p != '.') digits[nd++] = *p;
  int exp = atoi(p + 1);
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  if (neg) bert_strbuf_puts(out, "-");
  if (exp < -4 || exp >= 16) {
    bert_strbuf_printf(out, "%c", digits[0]);
    if (nd > 1) bert_strbuf_printf(out, ".%.*s", nd - 1, digits + 1);
    bert_strbuf_printf(out, "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
  } else if (exp < 0) {
    bert_strbuf_puts(out, "0.");
    for (int i = 0; i < -exp - 1; i++) bert_strbuf_puts(out, "0");
    bert_strbuf_printf(out, "%.*s", nd, digits);
  } else {
    for (int i = 0; i <= exp; i++) bert_strbuf_printf(out, "%c", i < nd ? digits[i] : '0');
    bert_strbuf_puts(out, ".");
    if (nd > exp + 1) bert_strbuf_printf(out, "%.*s", nd - exp - 1, digits + exp + 1);
    else bert_strbuf_puts(out, "0");
  }
}

static void format_list(const bert_run_config *cfg, const bert_opt_def *d, bert_strbuf *out) {
  const void *f = opt_cfield(cfg, d);
  bert_strbuf_puts(out, "[");
  if (d->type == OPT_INT_LIST) {
    const bert_run_int_list *l = f;
    for (int i = 0; i < l->count; i++) bert_strbuf_printf(out, "%s%d", i ? ", " : "", l->v[i]);
  } else if (d->type == OPT_FLOAT_LIST) {
    const bert_run_float_list *l = f;
    for (int i = 0; i < l->count; i++) {
      if (i) bert_strbuf_puts(out, ", ");
      bert_py_float(l->v[i], out);
    }
  } else {
    const bert_strlist *l = f;
    for (size_t i = 0; i < l->count; i++) bert_strbuf_printf(out, "%s'%s'", i ? ", " : "", l->items[i]);
  }
  bert_strbuf_puts(out, "]");
}

void bert_opt_format(const bert_run_config *cfg, const bert_opt_def *d, bert_strbuf *out) {
  if (!cfg->is_set[d - bert_opt_table]) {
    bert_strbuf_puts(out, "None");
    return;
  }
  const void *f = opt_cfield(cfg, d);
  switch (d->type) {
    case OPT_INT: bert_strbuf_printf(out, "%d", *(const int *)f); break;
    case OPT_FLOAT:
    case OPT_OPT_FLOAT: bert_py_float(*(const double *)f, out); break;
    case OPT_BOOL:
    case OPT_FLAG: bert_strbuf_puts(out, *(const bool *)f ? "True" : "False"); break;
    case OPT_STRING:
    case OPT_CHOICE: bert_strbuf_puts(out, *(char *const *)f); break;
    case OPT_INT_LIST:
    case OPT_FLOAT_LIST:
    case OPT_STRING_LIST: format_list(cfg, d, out); break;
    case OPT_DICT: {
      const bert_run_dict *m = f;
      bert_strbuf_puts(out, "{");
      for (int i = 0; i < m->count; i++) {
        bert_strbuf_printf(out, "%s%d: ", i ? ", " : "", m->key[i]);
        bert_py_float(m->value[i], out);
      }
      bert_strbuf_puts(out, "}");
      break;
    }
  }
}
