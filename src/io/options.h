/* io/options: the run configuration of `bert pretrain` and `bert squad`, parsed exactly as the
 * reference's args.py does it (REFERENCE 1.1): `--config NAME` picks a section of
 * configs/pretraining.yml (or configs/squad.yml), its keys (underscores) become the defaults of
 * the options (dashes), the command line overrides them, then the derived values are computed
 * (layers_per_ipu / matmul_proportion expansion, packing adjustment of gradient accumulation,
 * global batch, samples per step, intermediate size = 4 x hidden).
 *
 * The result is a plain struct with one typed field per option, named as the reference's
 * attribute. Options whose reference default is None can be unset: `bert_run_config_has` tells.
 * The options are described once, in a table (options_table.c), which drives parsing, YAML,
 * --help and JSON alike. */
#ifndef BERT_IO_OPTIONS_H
#define BERT_IO_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "base/glob.h"

/* The longest list an option holds (layers_per_ipu is expanded to one entry per IPU). */
#define BERT_RUN_MAX_LIST 256
/* Entries of the packing_factor dictionary. */
#define BERT_RUN_MAX_DICT 16

/* parse's return value when -h/--help was given: print the help and exit 0. */
#define BERT_RUN_HELP 1

typedef enum bert_program { BERT_PROGRAM_PRETRAIN, BERT_PROGRAM_SQUAD } bert_program;

typedef struct bert_run_int_list {
  int count;
  int v[BERT_RUN_MAX_LIST];
} bert_run_int_list;

typedef struct bert_run_float_list {
  int count;
  double v[BERT_RUN_MAX_LIST];
} bert_run_float_list;

/* packing_factor: sequence length -> expected sequences per pack, e.g. {128: 1.17, ...}. */
typedef struct bert_run_dict {
  int count;
  int key[BERT_RUN_MAX_DICT];
  double value[BERT_RUN_MAX_DICT];
} bert_run_dict;

/* Option identities, in help order; bert_run_option_name() gives the attribute name. */
typedef enum bert_opt_id {
  /* configuration */
  BERT_OPT_CONFIG, BERT_OPT_CONFIG_FILE,
  /* execution */
  BERT_OPT_MICRO_BATCH_SIZE, BERT_OPT_TRAINING_STEPS, BERT_OPT_DEVICE_ITERATIONS, BERT_OPT_REPLICATION_FACTOR,
  BERT_OPT_GRADIENT_ACCUMULATION, BERT_OPT_EMBEDDING_SERIALIZATION_FACTOR, BERT_OPT_RECOMPUTE_CHECKPOINT_EVERY_LAYER,
  BERT_OPT_ENABLE_HALF_PARTIALS, BERT_OPT_OPTIMIZER_STATE_OFFCHIP, BERT_OPT_REPLICATED_TENSOR_SHARDING,
  BERT_OPT_IPUS_PER_REPLICA, BERT_OPT_LAYERS_PER_IPU, BERT_OPT_MATMUL_PROPORTION, BERT_OPT_ASYNC_DATALOADER,
  BERT_OPT_RANDOM_SEED, BERT_OPT_NUM_EPOCHS,
  /* optimizer */
  BERT_OPT_OPTIMIZER, BERT_OPT_LEARNING_RATE, BERT_OPT_LR_SCHEDULE, BERT_OPT_LR_WARMUP, BERT_OPT_AUTO_LOSS_SCALING,
  BERT_OPT_LOSS_SCALING, BERT_OPT_WEIGHT_DECAY, BERT_OPT_ENABLE_HALF_FIRST_ORDER_MOMENTUM, BERT_OPT_SQUAD_DO_TRAINING,
  BERT_OPT_SQUAD_DO_VALIDATION,
  /* model */
  BERT_OPT_SEQUENCE_LENGTH, BERT_OPT_MASK_TOKENS, BERT_OPT_VOCAB_SIZE, BERT_OPT_HIDDEN_SIZE, BERT_OPT_INTERMEDIATE_SIZE,
  BERT_OPT_NUM_HIDDEN_LAYERS, BERT_OPT_NUM_ATTENTION_HEADS, BERT_OPT_LAYER_NORM_EPS,
  BERT_OPT_ATTENTION_PROBS_DROPOUT_PROB,
  /* dataset */
  BERT_OPT_INPUT_FILES, BERT_OPT_DATASET, BERT_OPT_SYNTHETIC_DATA, BERT_OPT_SQUAD_V2, BERT_OPT_PACKED_DATA,
  BERT_OPT_PACKING_FACTOR, BERT_OPT_MAX_SEQUENCES_PER_PACK,
  /* misc */
  BERT_OPT_DATALOADER_WORKERS, BERT_OPT_PROFILE_DIR, BERT_OPT_CUSTOM_OPS, BERT_OPT_WANDB, BERT_OPT_WANDB_PARAM_STEPS,
  BERT_OPT_DISABLE_PROGRESS_BAR, BERT_OPT_COMPILE_ONLY, BERT_OPT_EXECUTABLE_CACHE_DIR,
  /* checkpointing */
  BERT_OPT_CHECKPOINT_OUTPUT_DIR, BERT_OPT_CHECKPOINT_STEPS, BERT_OPT_RESUME_TRAINING_FROM_CHECKPOINT,
  BERT_OPT_CHECKPOINT_INPUT_DIR,
  /* bertc */
  BERT_OPT_VOCAB, BERT_OPT_PRECISION, BERT_OPT_THREADS, BERT_OPT_METRICS_FILE,
  /* bertc, SQuAD */
  BERT_OPT_TRAIN_FILE, BERT_OPT_PREDICT_FILE, BERT_OPT_OUTPUT_DIR, BERT_OPT_MAX_SEQ_LENGTH, BERT_OPT_DOC_STRIDE,
  BERT_OPT_N_BEST_SIZE, BERT_OPT_MAX_ANSWER_LENGTH, BERT_OPT_INFERENCE_BATCH_SIZE, BERT_OPT_HIDDEN_DROPOUT_PROB,
  BERT_OPT_MAX_TRAIN_SAMPLES, BERT_OPT_MAX_EVAL_SAMPLES,
  BERT_OPT_COUNT
} bert_opt_id;

typedef struct bert_run_config {
  bert_program program;

  /* configuration */
  char *config;      /* section name (default demo_tiny_128) */
  char *config_file; /* the YAML file read */

  /* execution */
  int micro_batch_size, training_steps, device_iterations, replication_factor, gradient_accumulation;
  int embedding_serialization_factor;
  bool recompute_checkpoint_every_layer, enable_half_partials, optimizer_state_offchip, replicated_tensor_sharding;
  int ipus_per_replica;
  bert_run_int_list layers_per_ipu;      /* expanded: sums to num_hidden_layers */
  bert_run_float_list matmul_proportion; /* expanded: one per IPU */
  bool async_dataloader;
  int random_seed, num_epochs;

  /* optimizer */
  char *optimizer;   /* AdamW | LAMB | LAMBNoBiasCorrection */
  double learning_rate;
  char *lr_schedule; /* constant | linear */
  double lr_warmup, loss_scaling, weight_decay;
  bool auto_loss_scaling, enable_half_first_order_momentum, squad_do_training, squad_do_validation;

  /* model */
  int sequence_length, mask_tokens, vocab_size, hidden_size, intermediate_size, num_hidden_layers, num_attention_heads;
  double layer_norm_eps, attention_probs_dropout_prob;

  /* dataset */
  bert_strlist input_files; /* glob patterns, as given */
  char *dataset;            /* generated | pretraining (| squad in configs/squad.yml) */
  bool synthetic_data, squad_v2, packed_data;
  bert_run_dict packing_factor;
  int max_sequences_per_pack;

  /* misc */
  int dataloader_workers, wandb_param_steps;
  char *profile_dir, *executable_cache_dir;
  bool custom_ops, wandb, disable_progress_bar, compile_only;

  /* checkpointing */
  char *checkpoint_output_dir, *checkpoint_input_dir;
  int checkpoint_steps;
  bool resume_training_from_checkpoint;

  /* bertc */
  char *vocab;       /* vocab.txt (default data/vocab.txt) */
  char *precision;   /* fp32 | bf16 | fp16 (pretraining) | int8 (SQuAD evaluation) */
  int threads;       /* unset: all cores */
  char *metrics_file;/* unset: metrics.jsonl beside the checkpoints */

  /* bertc, SQuAD (the reference downloads the data with HF datasets and writes nothing) */
  char *train_file, *predict_file; /* SQuAD JSON files */
  char *output_dir;                /* predictions, metrics and the fine-tuned model */
  int max_seq_length, doc_stride;  /* 384 / 128, the reference's constants */
  int n_best_size, max_answer_length; /* 20 / 30 */
  int inference_batch_size;        /* 20, the reference's validation micro-batch */
  double hidden_dropout_prob;      /* 0.1, HF's default (the reference never changes it) */
  int max_train_samples, max_eval_samples; /* HF run_qa's: the first N questions (unset: all) */

  /* derived (REFERENCE 1.1 step 8) */
  long long global_batch_size; /* RF x GA x mbs (GA after the packing adjustment) */
  long long samples_per_step;  /* RF x GA x mbs x DI */
  double packing_factor_used;  /* packing_factor[sequence_length] when packed_data, else 0 */
  int gradient_accumulation_unpacked; /* GA as configured, before the packing adjustment */

  /* bookkeeping */
  unsigned char is_set[BERT_OPT_COUNT]; /* 0 where the reference's value would be None */
  char *unknown_yaml_keys;              /* "{'a', 'b'}" when the section had unknown keys */
} bert_run_config;

/* Parses `argv[1..argc-1]` (argv[0], the command name, is skipped) for `program`.
 * `config_file` names the YAML file; NULL means --config-file if given, else configs/<program>.yml
 * searched in the working directory and beside the executable (., .., ../..).
 * Returns 0, BERT_RUN_HELP (cfg then holds the defaults to show), BERT_EINVAL for bad usage
 * (the CLI exits 2: bad value, unknown option or config name, failed check — the message names
 * the option and what was expected) or another negative code (unreadable / malformed YAML).
 * cfg is always initialised: free it with bert_run_config_free whatever the result. */
int bert_run_config_parse(bert_run_config *cfg, bert_program program, int argc, char **argv,
                          const char *config_file, bert_error *err);
void bert_run_config_free(bert_run_config *cfg);
/* The command's front end over parse: on --help prints the help to stdout; on an error prints the
 * usage and "bert <program>: error: <message>" to stderr, as argparse does. Returns -1 when cfg
 * is ready to use, else the exit status to return (0 after help, 2 bad usage, 1 other errors). */
int bert_run_config_from_args(bert_run_config *cfg, bert_program program, int argc, char **argv);

/* Whether an option has a value (the reference's None otherwise). */
bool bert_run_config_has(const bert_run_config *cfg, bert_opt_id id);
/* The attribute / YAML key name of an option ("micro_batch_size"). */
const char *bert_run_option_name(bert_opt_id id);
const char *bert_program_name(bert_program program); /* "pretrain" / "squad" */

/* `usage: bert pretrain [-h] [--config CONFIG] ...` wrapped at 78 columns. */
void bert_run_config_print_usage(bert_program program, FILE *out);
/* Usage, then every option with its help and `(default: X)` (cfg's values: the YAML section's
 * defaults after a BERT_RUN_HELP return), argparse ArgumentDefaultsHelpFormatter style. */
void bert_run_config_print_help(const bert_run_config *cfg, FILE *out);
/* The reference's start-up lines, in its order: the unknown-YAML-keys warning, `Using config:`,
 * the packing adjustment of gradient accumulation; then one line naming the options that have no
 * effect on CPU (IPU-only, or auto loss scaling outside fp16) and one for --wandb. Rank 0 calls it. */
void bert_run_config_log(const bert_run_config *cfg, FILE *out);
/* Comma-separated names of the set options that have no effect on CPU ("" when none). */
void bert_run_config_no_effect(const bert_run_config *cfg, char *buf, size_t size);

/* The encoder layer -> IPU (pipeline stage) map of layers_per_ipu, as the reference's
 * _get_layer_ipu: ipu_of_layer[i] for i < num_hidden_layers. For the "Device Allocation" log. */
void bert_run_config_layer_ipu(const bert_run_config *cfg, int *ipu_of_layer);

/* Every option (and the derived values) as a JSON object keyed by attribute name, unset ones as
 * null; the reference copies all of them into the saved config.json. NULL if out of memory. */
cJSON *bert_run_config_to_json(const bert_run_config *cfg);

#endif
