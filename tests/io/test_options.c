/* io/options: every named configuration of configs/{pretraining,squad}.yml gives REFERENCE
 * 2.2-2.4's values; YAML merge keys, command-line overrides, prefixes, optional-value booleans,
 * invalid values, the reference's argparse tests, the packing adjustment, derived values, the
 * unknown-key warning, help and JSON. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/options.h"
#include "io/options_internal.h"
#include "test_util.h"

/* Parses a space-separated argument string for `program` (NULL file: the default search). */
static int parse_in(bert_run_config *cfg, bert_program program, const char *file, const char *args,
                    bert_error *err) {
  char buf[2048], *argv[128];
  int argc = 0;
  argv[argc++] = (char *)bert_program_name(program);
  snprintf(buf, sizeof buf, "%s", args);
  for (char *t = strtok(buf, " "); t && argc < 127; t = strtok(NULL, " ")) argv[argc++] = t;
  argv[argc] = NULL;
  memset(err, 0, sizeof *err);
  return bert_run_config_parse(cfg, program, argc, argv, file, err);
}

static int parse(bert_run_config *cfg, const char *args, bert_error *err) {
  return parse_in(cfg, BERT_PROGRAM_PRETRAIN, NULL, args, err);
}

/* "0,4,4,4" against an int list. */
static int int_list_is(const bert_run_int_list *l, const char *want) {
  char got[1024] = "";
  size_t n = 0;
  for (int i = 0; i < l->count; i++) n += (size_t)snprintf(got + n, sizeof got - n, "%s%d", i ? "," : "", l->v[i]);
  if (strcmp(got, want)) fprintf(stderr, "  int list: got %s, want %s\n", got, want);
  return !strcmp(got, want);
}

static int float_list_is(const bert_run_float_list *l, const char *want) {
  char copy[256];
  snprintf(copy, sizeof copy, "%s", want);
  int i = 0, ok = 1;
  for (char *t = strtok(copy, ","); t; t = strtok(NULL, ","), i++) ok &= i < l->count && l->v[i] == strtod(t, NULL);
  if (!ok || i != l->count) fprintf(stderr, "  float list: count %d, want %s\n", l->count, want);
  return ok && i == l->count;
}

/* ---- REFERENCE 2.2 / 2.3 ----------------------------------------------------------------- */

typedef struct pretrain_row {
  const char *name;
  int layers, hidden, heads, seq, mask, mbs, ga, rf, di;
  long long gbs, sps;
  int steps, packed_ga;
  long long packed_gbs;
  const char *optimizer;
  double lr;
  const char *schedule; /* NULL: unset */
  double warmup;        /* < 0: unset */
  double wd, loss_scaling; /* loss_scaling < 0: unset */
  int als, esf;
  const char *layers_per_ipu, *matmul;
  int rts, workers;
  const char *input; /* NULL: no input_files */
} pretrain_row;

#define W128 "data/wikipedia/128/*.tfrecord"
#define W512 "data/wikipedia/512/*.tfrecord"
#define BASE_LAYOUT "0,4,4,4", "0.25,0.25,0.25,0.25"
#define L4(a, b) a "," b "," b "," b

static const pretrain_row pretrain_rows[] = {
    {"demo_tiny_128", 3, 64, 8, 128, 20, 1, 16, 1, 1, 16, 16, 150, 14, 14, "AdamW", 0.001, "constant", 0.0, 0.0, 16,
     0, 1, "0,1,1,1", "0.6,0.6,0.6,0.6", 0, 1, "data/*.tfrecord"},
    {"pretrain_base_128", 12, 768, 12, 128, 20, 32, 512, 4, 1, 65536, 65536, 7038, 438, 56064, "LAMBNoBiasCorrection",
     0.006, "linear", 0.28, 0.01, 16384, 0, 1, BASE_LAYOUT, 1, 64, W128},
    {"pretrain_base_128_pod4", 12, 768, 12, 128, 20, 32, 2048, 1, 1, 65536, 65536, 7038, 1751, 56032,
     "LAMBNoBiasCorrection", 0.006, "linear", 0.28, 0.01, 16384, 0, 1, BASE_LAYOUT, 1, 64, W128},
    {"pretrain_base_512", 12, 768, 12, 512, 76, 8, 512, 4, 1, 16384, 16384, 2137, 256, 8192, "LAMBNoBiasCorrection",
     0.002828, "linear", 0.128, 0.01, 128, 0, 2, BASE_LAYOUT, 1, 64, W512},
    /* inherits pretrain_base_128, as in the reference */
    {"pretrain_base_512_pod4", 12, 768, 12, 128, 20, 32, 2048, 1, 1, 65536, 65536, 7038, 1751, 56032,
     "LAMBNoBiasCorrection", 0.006, "linear", 0.28, 0.01, 16384, 0, 1, BASE_LAYOUT, 1, 64, W128},
    {"pretrain_large_128", 24, 1024, 16, 128, 20, 8, 2048, 4, 1, 65536, 65536, 7038, 1751, 56032, "LAMB", 0.006,
     "linear", 0.28, 0.01, 4096, 0, 2, "3,7,7,7", L4("0.15", "0.25"), 1, 64, W128},
    {"pretrain_large_128_pod4", 24, 1024, 16, 128, 20, 8, 8192, 1, 1, 65536, 65536, 7038, 7002, 56016, "LAMB", 0.006,
     "linear", 0.28, 0.01, 4096, 0, 2, "3,7,7,7", L4("0.15", "0.25"), 1, 64, W128},
    {"pretrain_large_128_ALS", 24, 1024, 16, 128, 20, 8, 2048, 4, 1, 65536, 65536, 7038, 1751, 56032, "LAMB", 0.006,
     "linear", 0.28, 0.01, 1.0, 1, 2, "3,7,7,7", L4("0.13", "0.20"), 1, 64, W128},
    {"pretrain_large_128_POD64", 24, 1024, 16, 128, 20, 8, 512, 16, 1, 65536, 65536, 7038, 438, 56064, "LAMB", 0.006,
     "linear", 0.28, 0.01, 32768, 0, 2, "3,7,7,7", L4("0.14", "0.19"), 1, 64, W128},
    {"pretrain_large_128_POD64_ALS", 24, 1024, 16, 128, 20, 8, 512, 16, 1, 65536, 65536, 7038, 438, 56064, "LAMB",
     0.006, "linear", 0.28, 0.01, 1.0, 1, 6, "3,7,7,7", L4("0.05", "0.13"), 1, 64, W128},
    {"pretrain_large_512", 24, 1024, 16, 512, 76, 2, 2048, 4, 1, 16384, 16384, 2137, 1024, 8192, "LAMB", 0.002828,
     "linear", 0.128, 0.01, 8192, 0, 2, "3,7,7,7", L4("0.10", "0.15"), 1, 64, W512},
    {"pretrain_large_512_pod4", 24, 1024, 16, 512, 76, 2, 8192, 1, 1, 16384, 16384, 2137, 4096, 8192, "LAMB",
     0.002828, "linear", 0.128, 0.01, 8192, 0, 2, "3,7,7,7", L4("0.10", "0.15"), 1, 64, W512},
    {"pretrain_large_512_POD64", 24, 1024, 16, 512, 76, 2, 512, 16, 1, 16384, 16384, 2137, 256, 8192, "LAMB",
     0.002828, "linear", 0.128, 0.01, 16384, 0, 2, "3,7,7,7", L4("0.13", "0.19"), 1, 64, W512},
    {"unit_test", 3, 32, 8, 128, 20, 1, 16, 1, 10, 16, 160, 10, 14, 14, "AdamW", 0.01, NULL, -1, 0.0, -1, 0, 1,
     "0,1,1,1", "0.6,0.6,0.6,0.6", 0, 64, NULL},
    {"pretrain_base_3L_128_single", 3, 768, 12, 128, 20, 8, 128, 1, 64, 1024, 65536, 150, 110, 880, "AdamW", 0.0001,
     "linear", 0.01, 0.01, 16, 0, 1, "0,1,1,1", "0.28,0.28,0.28,0.28", 0, 1, "data/wikipedia/128/wiki_042.tfrecord"},
};

static void check_pretrain_row(const pretrain_row *r) {
  bert_run_config c;
  bert_error err;
  char args[128];
  snprintf(args, sizeof args, "--config %s", r->name);
  int rc = parse(&c, args, &err);
  CHECK_MSG(rc == 0, "%s: %s", r->name, err.message);
  if (rc) {
    bert_run_config_free(&c);
    return;
  }
  CHECK_MSG(c.num_hidden_layers == r->layers && c.hidden_size == r->hidden && c.num_attention_heads == r->heads &&
                c.intermediate_size == 4 * r->hidden,
            "%s: model sizes", r->name);
  CHECK_MSG(c.sequence_length == r->seq && c.mask_tokens == r->mask, "%s: seq/mask", r->name);
  CHECK_MSG(c.micro_batch_size == r->mbs && c.gradient_accumulation == r->ga && c.replication_factor == r->rf &&
                c.device_iterations == r->di,
            "%s: batch", r->name);
  CHECK_MSG(c.global_batch_size == r->gbs && c.samples_per_step == r->sps, "%s: gbs %lld sps %lld", r->name,
            c.global_batch_size, c.samples_per_step);
  CHECK_MSG(c.training_steps == r->steps, "%s: steps", r->name);
  CHECK_MSG(!strcmp(c.optimizer, r->optimizer) && c.learning_rate == r->lr, "%s: optimizer", r->name);
  CHECK_MSG(r->schedule ? c.lr_schedule && !strcmp(c.lr_schedule, r->schedule) : !bert_run_config_has(&c, BERT_OPT_LR_SCHEDULE),
            "%s: schedule", r->name);
  CHECK_MSG(r->warmup < 0 ? !bert_run_config_has(&c, BERT_OPT_LR_WARMUP) : c.lr_warmup == r->warmup, "%s: warmup",
            r->name);
  CHECK_MSG(c.weight_decay == r->wd, "%s: weight decay", r->name);
  CHECK_MSG(r->loss_scaling < 0 ? !bert_run_config_has(&c, BERT_OPT_LOSS_SCALING) : c.loss_scaling == r->loss_scaling,
            "%s: loss scaling", r->name);
  CHECK_MSG(c.auto_loss_scaling == r->als && c.embedding_serialization_factor == r->esf, "%s: als/esf", r->name);
  CHECK_MSG(c.ipus_per_replica == 4 && int_list_is(&c.layers_per_ipu, r->layers_per_ipu), "%s: layers", r->name);
  CHECK_MSG(float_list_is(&c.matmul_proportion, r->matmul), "%s: matmul", r->name);
  CHECK_MSG(c.replicated_tensor_sharding == r->rts && c.dataloader_workers == r->workers, "%s: rts/workers", r->name);
  CHECK_MSG(r->input ? c.input_files.count == 1 && !strcmp(c.input_files.items[0], r->input)
                     : !bert_run_config_has(&c, BERT_OPT_INPUT_FILES),
            "%s: input files", r->name);
  /* 2.1 defaults reach every config */
  CHECK_MSG(c.random_seed == 5 && c.vocab_size == (strcmp(r->name, "unit_test") ? 30522 : 1000) &&
                c.layer_norm_eps == 0.001 && c.attention_probs_dropout_prob == 0.0 && c.enable_half_partials &&
                c.optimizer_state_offchip && c.recompute_checkpoint_every_layer && c.custom_ops && !c.synthetic_data &&
                !c.packed_data && c.max_sequences_per_pack == 3 && !strcmp(c.dataset, "pretraining") &&
                c.async_dataloader && !c.enable_half_first_order_momentum,
            "%s: defaults", r->name);
  bert_run_config_free(&c);

  /* packed: GA = ceil(GA / 1.17 or 2.0) */
  snprintf(args, sizeof args, "--config %s --packed-data", r->name);
  rc = parse(&c, args, &err);
  CHECK_MSG(rc == 0 && c.gradient_accumulation == r->packed_ga && c.global_batch_size == r->packed_gbs &&
                c.gradient_accumulation_unpacked == r->ga && c.packing_factor_used == (r->seq == 512 ? 2.0 : 1.17),
            "%s packed: GA %d GBS %lld (%s)", r->name, c.gradient_accumulation, c.global_batch_size, err.message);
  bert_run_config_free(&c);
}

/* ---- REFERENCE 2.4 ------------------------------------------------------------------------ */

typedef struct squad_row {
  const char *name;
  int layers, hidden, heads, seq, mbs, ga, rf, di;
  long long gbs, sps;
  int epochs;
  double lr, warmup, wd, loss_scaling, attn;
  int ipus;
  const char *layers_per_ipu, *matmul;
  int rts, offchip, half_momentum;
  const char *exe_cache;
} squad_row;

static const squad_row squad_rows[] = {
    {"demo_tiny_128", 3, 64, 8, 128, 1, 16, 1, 1, 16, 16, 2, 0.001, 0.0, 0.0, 16, 0.0, 4, "0,1,1,1",
     "0.6,0.6,0.6,0.6", 0, 1, 0, ""},
    {"squad_base_384", 12, 768, 12, 384, 1, 8, 4, 2, 32, 64, 3, 6e-5, 0.25, 0.01, 64, 0.1, 4, "0,4,4,4",
     "0.25,0.25,0.25,0.25", 1, 0, 1, "./exe_cache"},
    {"squad_large_384", 24, 1024, 16, 384, 4, 32, 2, 2, 256, 512, 3, 5e-5, 0.10, 0.01, 64, 0.15, 8,
     "2,3,3,3,3,3,3,4", "0.08,0.25,0.32,0.32,0.36,0.38,0.4,0.32", 1, 0, 1, "./exe_cache"},
    {"squad_large_384_4x4", 24, 1024, 16, 384, 2, 64, 4, 1, 512, 512, 3, 5e-5, 0.10, 0.01, 64, 0.15, 4, "3,7,7,7",
     "0.15,0.25,0.25,0.25", 1, 1, 1, "./exe_cache"},
};

static void check_squad_row(const squad_row *r) {
  bert_run_config c;
  bert_error err;
  char args[128];
  snprintf(args, sizeof args, "--config %s", r->name);
  int rc = parse_in(&c, BERT_PROGRAM_SQUAD, NULL, args, &err);
  CHECK_MSG(rc == 0, "squad %s: %s", r->name, err.message);
  if (rc) {
    bert_run_config_free(&c);
    return;
  }
  CHECK_MSG(strstr(c.config_file, "squad.yml") != NULL, "squad file %s", c.config_file);
  CHECK_MSG(c.num_hidden_layers == r->layers && c.hidden_size == r->hidden && c.num_attention_heads == r->heads &&
                c.sequence_length == r->seq,
            "squad %s: model", r->name);
  CHECK_MSG(c.micro_batch_size == r->mbs && c.gradient_accumulation == r->ga && c.replication_factor == r->rf &&
                c.device_iterations == r->di && c.global_batch_size == r->gbs && c.samples_per_step == r->sps,
            "squad %s: batch", r->name);
  CHECK_MSG(c.num_epochs == r->epochs && !strcmp(c.optimizer, "AdamW") && c.learning_rate == r->lr &&
                c.lr_warmup == r->warmup && c.weight_decay == r->wd && c.loss_scaling == r->loss_scaling &&
                c.attention_probs_dropout_prob == r->attn,
            "squad %s: optimizer", r->name);
  CHECK_MSG(c.ipus_per_replica == r->ipus && int_list_is(&c.layers_per_ipu, r->layers_per_ipu) &&
                float_list_is(&c.matmul_proportion, r->matmul),
            "squad %s: layout", r->name);
  CHECK_MSG(c.replicated_tensor_sharding == r->rts && c.optimizer_state_offchip == r->offchip &&
                c.enable_half_first_order_momentum == r->half_momentum && !strcmp(c.executable_cache_dir, r->exe_cache),
            "squad %s: IPU settings", r->name);
  CHECK_MSG(c.random_seed == 1984 && !strcmp(c.dataset, "squad") && c.squad_do_training && c.squad_do_validation &&
                !c.squad_v2 && c.mask_tokens == 20 && c.vocab_size == 30522,
            "squad %s: defaults", r->name);
  bert_run_config_free(&c);
}

static void test_named_configs(void) {
  for (size_t i = 0; i < sizeof pretrain_rows / sizeof pretrain_rows[0]; i++) check_pretrain_row(&pretrain_rows[i]);
  for (size_t i = 0; i < sizeof squad_rows / sizeof squad_rows[0]; i++) check_squad_row(&squad_rows[i]);
  /* the `defaults` section is a section too, but lacks the batch sizes the checks need */
  bert_run_config c;
  bert_error err;
  CHECK(parse(&c, "--config defaults", &err) == BERT_EINVAL && strstr(err.message, "micro_batch_size is not set"));
  bert_run_config_free(&c);
  CHECK(parse(&c, "--config defaults --micro-batch-size 1 --gradient-accumulation 1 --replication-factor 1 "
                  "--device-iterations 1 --hidden-size 8 --num-hidden-layers 1",
              &err) == 0);
  CHECK(c.packing_factor.count == 3 && c.packing_factor.key[1] == 384 && c.packing_factor.value[1] == 1.7);
  bert_run_config_free(&c);
}

/* ---- YAML mechanics on a file of our own ------------------------------------------------- */

static const char *write_file(const char *dir, const char *name, const char *text) {
  static char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (!f) return NULL;
  fputs(text, f);
  fclose(f);
  return path;
}

static const char *merge_yaml =
    "base: &base\n"
    "  micro_batch_size: 2\n"
    "  gradient_accumulation: 3\n"
    "  replication_factor: 1\n"
    "  device_iterations: 1\n"
    "  hidden_size: 64\n"
    "  num_hidden_layers: 2\n"
    "  learning_rate: 6e-5\n"
    "  input_files: &files [a.tfrecord, b.tfrecord]\n"
    "mid: &mid\n"
    "  <<: *base\n"
    "  micro_batch_size: 4\n"
    "extra: &extra\n"
    "  micro_batch_size: 99\n"
    "  weight_decay: 0.5\n"
    "child:\n"
    "  <<: [*mid, *extra]\n"
    "  gradient_accumulation: 5\n"
    "first:\n"
    "  micro_batch_size: 7\n"
    "  <<: *base\n"
    "  input_files: *files\n"
    "typed:\n"
    "  <<: *base\n"
    "  micro_batch_size: \"8\"\n"
    "  async_dataloader: off\n"
    "  packed_data: \"yes\"\n"
    "  optimizer: ~\n"
    "  loss_scaling:\n"
    "  input_files: single.tfrecord\n"
    "  layers_per_ipu: 1\n"
    "  num_hidden_layers: 2\n"
    "  sequence_length: 128\n"
    "  ipus_per_replica: 2\n"
    "  matmul_proportion: [0.5, 1]\n"
    "  packing_factor: '{128: 1.5}'\n"
    "  pretrained_checkpoint: ckpt/step_3\n"
    "unknown:\n"
    "  <<: *base\n"
    "  bogus_key: 1\n"
    "  global_batch_size: 2\n"
    "bad_int:\n"
    "  <<: *base\n"
    "  micro_batch_size: 2.5\n"
    "bad_bool:\n"
    "  <<: *base\n"
    "  packed_data: maybe\n"
    "bad_list:\n"
    "  <<: *base\n"
    "  micro_batch_size: [1, 2]\n"
    "bad_merge:\n"
    "  <<: 3\n";

static void test_yaml_mechanics(const char *dir) {
  const char *file = write_file(dir, "merge.yml", merge_yaml);
  CHECK(file != NULL);
  if (!file) return;
  char path[4200];
  snprintf(path, sizeof path, "%s", file);
  bert_run_config c;
  bert_error err;

  CHECK(parse_in(&c, BERT_PROGRAM_PRETRAIN, path, "--config child", &err) == 0);
  /* own key > first merged (mid, itself merging base) > later merged (extra) */
  CHECK(c.gradient_accumulation == 5 && c.micro_batch_size == 4 && c.weight_decay == 0.5 && c.hidden_size == 64);
  CHECK(c.learning_rate == 6e-5); /* a string in YAML 1.1, converted as argparse does */
  CHECK(c.input_files.count == 2 && !strcmp(c.input_files.items[1], "b.tfrecord"));
  CHECK(c.global_batch_size == 20 && c.samples_per_step == 20 && c.intermediate_size == 256);
  CHECK(!strcmp(c.config_file, path));
  bert_run_config_free(&c);

  CHECK(parse_in(&c, BERT_PROGRAM_PRETRAIN, path, "--config first", &err) == 0);
  CHECK(c.micro_batch_size == 7 && c.input_files.count == 2); /* an explicit key before << still wins */
  bert_run_config_free(&c);

  CHECK_MSG(parse_in(&c, BERT_PROGRAM_PRETRAIN, path, "--config typed", &err) == 0, "%s", err.message);
  CHECK(c.micro_batch_size == 8 && !c.async_dataloader && c.packed_data);
  CHECK(!bert_run_config_has(&c, BERT_OPT_OPTIMIZER) && !c.optimizer && !bert_run_config_has(&c, BERT_OPT_LOSS_SCALING));
  CHECK(c.input_files.count == 1 && !strcmp(c.input_files.items[0], "single.tfrecord"));
  CHECK(int_list_is(&c.layers_per_ipu, "1,1") && float_list_is(&c.matmul_proportion, "0.5,1"));
  CHECK(c.packing_factor_used == 1.5 && c.gradient_accumulation == 2 && c.gradient_accumulation_unpacked == 3);
  CHECK(!strcmp(c.checkpoint_input_dir, "ckpt/step_3")); /* the alias's YAML key */
  CHECK(c.unknown_yaml_keys == NULL);
  bert_run_config_free(&c);

  CHECK(parse_in(&c, BERT_PROGRAM_PRETRAIN, path, "--config unknown", &err) == 0);
  CHECK(c.unknown_yaml_keys && !strcmp(c.unknown_yaml_keys, "{'bogus_key', 'global_batch_size'}"));
  char *log = NULL;
  size_t log_len = 0;
  FILE *mem = open_memstream(&log, &log_len);
  bert_run_config_log(&c, mem);
  fclose(mem);
  CHECK_MSG(strstr(log, " Warning: Unknown arg(s) in config file: {'bogus_key', 'global_batch_size'}\n") == log &&
                strstr(log, "Using config: unknown\n"),
            "%s", log);
  free(log);
  bert_run_config_free(&c);

  CHECK(parse_in(&c, BERT_PROGRAM_PRETRAIN, path, "--config bad_int", &err) == BERT_EINVAL);
  CHECK_MSG(strstr(err.message, "merge.yml:") && strstr(err.message, "micro_batch_size: invalid int value: '2.5'"),
            "%s", err.message);
  bert_run_config_free(&c);
  CHECK(parse_in(&c, BERT_PROGRAM_PRETRAIN, path, "--config bad_bool", &err) == BERT_EINVAL);
  CHECK_MSG(strstr(err.message, "packed_data: maybe is not a valid boolean value"), "%s", err.message);
  bert_run_config_free(&c);
  CHECK(parse_in(&c, BERT_PROGRAM_PRETRAIN, path, "--config bad_list", &err) == BERT_EINVAL);
  CHECK_MSG(strstr(err.message, "micro_batch_size: expected a single value"), "%s", err.message);
  bert_run_config_free(&c);
  CHECK(parse_in(&c, BERT_PROGRAM_PRETRAIN, path, "--config bad_merge", &err) == BERT_EFORMAT);
  CHECK_MSG(strstr(err.message, "<<"), "%s", err.message);
  bert_run_config_free(&c);

  /* unknown config names list the available ones; the file can also come from --config-file */
  char args[4300];
  snprintf(args, sizeof args, "--config-file %s --config nope", path);
  CHECK(parse(&c, args, &err) == BERT_EINVAL);
  CHECK_MSG(strstr(err.message, "unknown config 'nope'") && strstr(err.message, "available: base, mid, extra, child"),
            "%s", err.message);
  bert_run_config_free(&c);
  CHECK(parse(&c, "--config nope", &err) == BERT_EINVAL && strstr(err.message, "pretrain_large_512_POD64"));
  bert_run_config_free(&c);

  /* broken and missing files */
  const char *broken = write_file(dir, "broken.yml", "a: [1, 2\nb: 3\n");
  CHECK(parse_in(&c, BERT_PROGRAM_PRETRAIN, broken, "", &err) == BERT_EFORMAT && strstr(err.message, "broken.yml:"));
  bert_run_config_free(&c);
  CHECK(parse_in(&c, BERT_PROGRAM_PRETRAIN, "/nonexistent/x.yml", "", &err) == BERT_EIO);
  bert_run_config_free(&c);
  const char *recursive = write_file(dir, "rec.yml", "a: &a\n  b: 1\n  <<: *a\n");
  CHECK(parse_in(&c, BERT_PROGRAM_PRETRAIN, recursive, "--config a", &err) < 0);
  bert_run_config_free(&c);
}

/* ---- the command line -------------------------------------------------------------------- */

static void test_command_line(void) {
  bert_run_config c;
  bert_error err;
  /* overrides YAML; both --opt value and --opt=value; the last one wins */
  CHECK(parse(&c, "--config pretrain_base_128 --micro-batch-size 8 --learning-rate=0.5 --micro-batch-size=4", &err) == 0);
  CHECK(c.micro_batch_size == 4 && c.learning_rate == 0.5 && c.gradient_accumulation == 512);
  CHECK(c.global_batch_size == 4 * 512 * 4);
  bert_run_config_free(&c);

  /* prefixes used by the reference's own scripts */
  CHECK(parse(&c, "--input-file a.tfrecord b.tfrecord --replication 2 --pretrained ck", &err) == 0);
  CHECK(c.input_files.count == 2 && !strcmp(c.input_files.items[0], "a.tfrecord") && c.replication_factor == 2);
  CHECK(!strcmp(c.checkpoint_input_dir, "ck") && c.global_batch_size == 32);
  bert_run_config_free(&c);
  CHECK(parse(&c, "--input-file=x.tfrecord --checkpoint-in=dir", &err) == 0);
  CHECK(c.input_files.count == 1 && !strcmp(c.checkpoint_input_dir, "dir"));
  bert_run_config_free(&c);

  /* file lists are not limited like the numeric ones (a shell glob can expand to thousands) */
  static char names[600][16];
  char *many[603] = {"pretrain", "--input-files"};
  for (int i = 0; i < 600; i++) snprintf(names[i], sizeof names[i], "f%03d.tfrecord", i), many[2 + i] = names[i];
  CHECK(bert_run_config_parse(&c, BERT_PROGRAM_PRETRAIN, 602, many, NULL, &err) == 0);
  CHECK(c.input_files.count == 600 && !strcmp(c.input_files.items[599], "f599.tfrecord"));
  bert_run_config_free(&c);
  many[1] = "--layers-per-ipu";
  for (int i = 0; i < 300; i++) many[2 + i] = "0";
  CHECK(bert_run_config_parse(&c, BERT_PROGRAM_PRETRAIN, 302, many, NULL, &err) == BERT_EINVAL);
  CHECK_MSG(strstr(err.message, "argument --layers-per-ipu: at most 256 values"), "%s", err.message);
  bert_run_config_free(&c);

  /* ambiguous prefixes list their candidates */
  CHECK(parse(&c, "--re 2", &err) == BERT_EINVAL);
  CHECK_MSG(strstr(err.message, "ambiguous option: --re could match --replication-factor") &&
                strstr(err.message, "--resume-training-from-checkpoint"),
            "%s", err.message);
  bert_run_config_free(&c);
  CHECK(parse(&c, "--checkpoint 2", &err) == BERT_EINVAL && strstr(err.message, "--checkpoint-steps"));
  bert_run_config_free(&c);

  /* optional-value booleans */
  CHECK(parse(&c, "--packed-data --disable-progress-bar --async-dataloader", &err) == 0);
  CHECK(c.packed_data && c.disable_progress_bar && c.async_dataloader && c.gradient_accumulation == 14);
  bert_run_config_free(&c);
  static const char *const yes[] = {"true", "T", "1", "YES", "y", "True"}, *const no[] = {"false", "F", "0", "No", "n"};
  for (int i = 0; i < 6; i++) {
    char args[64];
    snprintf(args, sizeof args, "--wandb %s --custom-ops=%s", yes[i], i < 5 ? no[i] : "FALSE");
    CHECK_MSG(parse(&c, args, &err) == 0 && c.wandb && !c.custom_ops, "%s: %s", args, err.message);
    bert_run_config_free(&c);
  }
  CHECK(parse(&c, "--packed-data maybe", &err) == BERT_EINVAL);
  CHECK_MSG(strstr(err.message, "argument --packed-data: maybe is not a valid boolean value"), "%s", err.message);
  bert_run_config_free(&c);
  CHECK(parse(&c, "--packed-data on", &err) == BERT_EINVAL); /* YAML's on/off, not str_to_bool's */
  bert_run_config_free(&c);
  /* attention dropout's bare flag is 1.0 (argparse const=True) */
  CHECK(parse(&c, "--attention-probs-dropout-prob --random-seed 3", &err) == 0);
  CHECK(c.attention_probs_dropout_prob == 1.0 && c.random_seed == 3);
  bert_run_config_free(&c);
  CHECK(parse(&c, "--compile-only", &err) == 0 && c.compile_only);
  bert_run_config_free(&c);

  /* invalid values name the option and what was expected */
  static const struct {
    const char *args, *message;
  } bad[] = {
      {"--micro-batch-size x", "argument --micro-batch-size: invalid int value: 'x'"},
      {"--micro-batch-size 0", "expected an integer >= 1"},
      {"--micro-batch-size", "argument --micro-batch-size: expected one argument"},
      {"--micro-batch-size --hidden-size 4", "argument --micro-batch-size: expected one argument"},
      {"--learning-rate fast", "argument --learning-rate: invalid float value: 'fast'"},
      {"--lr-warmup 1.5", "argument --lr-warmup: invalid float value: '1.5' (expected a number in [0, 1])"},
      {"--optimizer SGD", "argument --optimizer: invalid choice: 'SGD' (choose from 'AdamW', 'LAMB', "
                          "'LAMBNoBiasCorrection')"},
      {"--lr-schedule cosine", "argument --lr-schedule: invalid choice: 'cosine'"},
      {"--dataset squad", "argument --dataset: invalid choice: 'squad' (choose from 'generated', 'pretraining')"},
      {"--max-sequences-per-pack 4", "argument --max-sequences-per-pack: invalid choice: 4 (choose from 2, 3)"},
      {"--precision fp8", "argument --precision: invalid choice: 'fp8'"},
      {"--threads 0", "argument --threads: invalid int value: '0'"},
      {"--layers-per-ipu", "argument --layers-per-ipu: expected at least one argument"},
      {"--layers-per-ipu 1 x", "argument --layers-per-ipu: invalid int value: 'x'"},
      {"--packing-factor [1]", "argument --packing-factor: [1] is not a valid dict value"},
      {"--compile-only=yes", "argument --compile-only: ignored explicit argument 'yes'"},
      {"--no-such-option 3", "unrecognized arguments: --no-such-option 3"},
      {"stray", "unrecognized arguments: stray"},
      {"--checkpoint-steps 0", "checkpoint-steps must be >=1"},
      {"--packed-data --sequence-length 256", "packing_factor {128: 1.17, 384: 1.7, 512: 2.0} has no entry for "
                                              "sequence_length 256"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = parse(&c, bad[i].args, &err);
    CHECK_MSG(rc == BERT_EINVAL && strstr(err.message, bad[i].message), "%s: rc %d: %s", bad[i].args, rc,
              err.message);
    bert_run_config_free(&c);
  }
  /* negative numbers are values (argparse's pattern) */
  CHECK(parse(&c, "--checkpoint-steps -1", &err) == BERT_EINVAL && strstr(err.message, "checkpoint-steps must be >=1"));
  bert_run_config_free(&c);

  /* SQuAD takes the same options; its dataset choice includes its YAML's value */
  CHECK(parse_in(&c, BERT_PROGRAM_SQUAD, NULL, "--config squad_base_384 --squad-v2 --num-epochs 1 --squad-do-training f",
                 &err) == 0);
  CHECK(c.squad_v2 && c.num_epochs == 1 && !c.squad_do_training && c.squad_do_validation);
  bert_run_config_free(&c);
}

/* REFERENCE 11: tests/argparse_test.py */
static void test_reference_argparse(void) {
  bert_run_config c;
  bert_error err;
  CHECK(parse(&c, "--config unit_test --layers-per-ipu 1 --num-hidden-layers 4", &err) == 0);
  CHECK(int_list_is(&c.layers_per_ipu, "1,1,1,1"));
  bert_run_config_free(&c);
  CHECK(parse(&c, "--config unit_test --layers-per-ipu 1 2 3 4 --num-hidden-layers 10", &err) == 0);
  CHECK(int_list_is(&c.layers_per_ipu, "1,2,3,4"));
  bert_run_config_free(&c);
  CHECK(parse(&c, "--config unit_test --layers-per-ipu 0 3 3 4 --num-hidden-layers 10", &err) == 0);
  CHECK(int_list_is(&c.layers_per_ipu, "0,3,3,4"));
  bert_run_config_free(&c);

  static const char *const invalid[] = {
      "--config unit_test --layers-per-ipu 1 1 1 1 --num-hidden-layers 3",
      "--config unit_test --layers-per-ipu 4 --num-hidden-layers 3",
      "--config unit_test --layers-per-ipu 0 1 2 1 --num-hidden-layers 3",
      "--config unit_test --layers-per-ipu 0 1 1 1 1 --num-hidden-layers 3",
      "--config unit_test --layers-per-ipu 0 --num-hidden-layers 3", /* a ZeroDivisionError there */
      "--config unit_test --layers-per-ipu 3 7 7 7 --num-hidden-layers 24 --matmul-proportion 0.15 0.3 0.3",
      "--config unit_test --layers-per-ipu 3 7 7 7 --num-hidden-layers 24 --matmul-proportion 0.15 0.3 0.3 0.3 0.3",
  };
  for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
    CHECK_MSG(parse(&c, invalid[i], &err) == BERT_EINVAL, "%s", invalid[i]);
    bert_run_config_free(&c);
  }
  CHECK(parse(&c, invalid[0], &err) == BERT_EINVAL);
  CHECK_MSG(!strcmp(err.message, "layers_per_ipu not compatible with number of hidden layers: [1, 1, 1, 1] and 3"),
            "%s", err.message);
  bert_run_config_free(&c);
  CHECK(parse(&c, invalid[5], &err) == BERT_EINVAL);
  CHECK_MSG(!strcmp(err.message, "Length of matmul_proportion doesn't match ipus_per_replica: [0.15, 0.3, 0.3] vs 4"),
            "%s", err.message);
  bert_run_config_free(&c);

  CHECK(parse(&c, "--config unit_test --layers-per-ipu 1 --num-hidden-layers 4 --matmul-proportion 0.2", &err) == 0);
  CHECK(float_list_is(&c.matmul_proportion, "0.2,0.2,0.2,0.2"));
  bert_run_config_free(&c);
  CHECK(parse(&c, "--config unit_test --layers-per-ipu 3 7 7 7 --num-hidden-layers 24 --matmul-proportion 0.15 0.3 0.3 0.3",
              &err) == 0);
  CHECK(float_list_is(&c.matmul_proportion, "0.15,0.3,0.3,0.3"));
  bert_run_config_free(&c);

  /* test_get_layer_ipu */
  int map[32];
  CHECK(parse(&c, "--config unit_test --layers-per-ipu 2 --num-hidden-layers 12", &err) == 0);
  bert_run_config_layer_ipu(&c, map);
  CHECK(c.layers_per_ipu.count == 6 && map[0] == 0 && map[1] == 0 && map[2] == 1 && map[10] == 5 && map[11] == 5);
  bert_run_config_free(&c);
  CHECK(parse(&c, "--config unit_test --layers-per-ipu 2 2 2 2 2 1 --num-hidden-layers 11", &err) == 0);
  bert_run_config_layer_ipu(&c, map);
  CHECK(map[0] == 0 && map[3] == 1 && map[8] == 4 && map[9] == 4 && map[10] == 5);
  bert_run_config_free(&c);
  CHECK(parse(&c, "--config unit_test --layers-per-ipu 0 1 1 1 --num-hidden-layers 3", &err) == 0);
  bert_run_config_layer_ipu(&c, map);
  CHECK(map[0] == 1 && map[1] == 2 && map[2] == 3);
  bert_run_config_free(&c);
}

static void test_derived(void) {
  bert_run_config c;
  bert_error err;
  CHECK(parse(&c, "--hidden-size 128 --intermediate-size 7", &err) == 0);
  CHECK(c.intermediate_size == 512);
  bert_run_config_free(&c);
  CHECK(parse(&c, "--packed-data --gradient-accumulation 100 --replication-factor 2 --device-iterations 3", &err) == 0);
  CHECK(c.gradient_accumulation == 86 && c.global_batch_size == 172 && c.samples_per_step == 516); /* ceil(100/1.17) */
  char *log = NULL;
  size_t n = 0;
  FILE *mem = open_memstream(&log, &n);
  bert_run_config_log(&c, mem);
  fclose(mem);
  CHECK_MSG(strstr(log, "Using config: demo_tiny_128\nPacking enabled. Adjusting gradient accumulation down by the "
                        "packing factor, 1.17: 100 -> 86\n"),
            "%s", log);
  CHECK(strstr(log, "No effect on CPU (IPU-only options): ") && strstr(log, "layers_per_ipu") &&
        !strstr(log, "auto_loss_scaling"));
  free(log);
  bert_run_config_free(&c);
  char *argv[] = {"pretrain", "--packed-data", "--packing-factor", "{128: 2.5, 512: 3}", "--gradient-accumulation",
                  "5", NULL};
  CHECK(bert_run_config_parse(&c, BERT_PROGRAM_PRETRAIN, 6, argv, NULL, &err) == 0);
  CHECK(c.gradient_accumulation == 2 && c.packing_factor.count == 2 && c.packing_factor.value[1] == 3.0);
  bert_run_config_free(&c);

  /* what has no effect on CPU: IPU-only settings asking for something; ALS outside fp16 */
  char names[1024];
  CHECK(parse(&c, "--config pretrain_large_128_ALS --profile-dir p --executable-cache-dir e", &err) == 0);
  bert_run_config_no_effect(&c, names, sizeof names);
  CHECK_MSG(!strcmp(names, "embedding_serialization_factor, recompute_checkpoint_every_layer, enable_half_partials, "
                           "optimizer_state_offchip, replicated_tensor_sharding, ipus_per_replica, layers_per_ipu, "
                           "matmul_proportion, auto_loss_scaling, profile_dir, custom_ops, executable_cache_dir"),
            "%s", names);
  bert_run_config_free(&c);
  CHECK(parse(&c, "--config pretrain_large_128_ALS --precision fp16", &err) == 0);
  bert_run_config_no_effect(&c, names, sizeof names);
  CHECK(!strstr(names, "auto_loss_scaling"));
  bert_run_config_free(&c);
  CHECK(parse(&c, "--ipus-per-replica 1 --layers-per-ipu 3 --matmul-proportion 0.5 --recompute-checkpoint-every-layer "
                  "false --enable-half-partials 0 --optimizer-state-offchip n --custom-ops no",
              &err) == 0);
  bert_run_config_no_effect(&c, names, sizeof names);
  CHECK_MSG(!strcmp(names, "layers_per_ipu, matmul_proportion"), "%s", names);
  bert_run_config_free(&c);
}

/* Help text with its line wrapping undone (runs of spaces and newlines become one space). */
static void squash(char *text) {
  char *out = text;
  for (char *p = text; *p; p++) {
    bool space = *p == ' ' || *p == '\n';
    if (!space || (out > text && out[-1] != ' ')) *out++ = space ? ' ' : *p;
  }
  *out = 0;
}

static void test_help_and_json(void) {
  bert_run_config c;
  bert_error err;
  /* help shows the config's defaults, not the values given before it */
  CHECK(parse(&c, "--config pretrain_base_128 --micro-batch-size 3 --help --no-such 1", &err) == BERT_RUN_HELP);
  CHECK(c.micro_batch_size == 32 && !strcmp(c.config, "pretrain_base_128"));
  char *text = NULL;
  size_t n = 0;
  FILE *mem = open_memstream(&text, &n);
  bert_run_config_print_help(&c, mem);
  fclose(mem);
  CHECK(!strncmp(text, "usage: bert pretrain [-h] ", 26));
  CHECK(strstr(text, "  --micro-batch-size MICRO_BATCH_SIZE\n") && strstr(text, "(default: 32)"));
  for (int id = 0; id < BERT_OPT_COUNT; id++) {
    char opt[80];
    snprintf(opt, sizeof opt, "  --%s", bert_opt_table[id].name);
    CHECK_MSG(strstr(text, opt), "help lacks %s", opt);
  }
  squash(text);
  CHECK(strstr(text, "(default: [0.25, 0.25, 0.25, 0.25])") == NULL); /* help shows the unexpanded value */
  CHECK(strstr(text, "(default: [0.25])") && strstr(text, "(default: ['data/wikipedia/128/*.tfrecord'])"));
  CHECK(strstr(text, "(default: {128: 1.17, 384: 1.7, 512: 2.0})") && strstr(text, "(default: 16384.0)"));
  free(text);
  bert_run_config_free(&c);
  CHECK(parse(&c, "-h", &err) == BERT_RUN_HELP);
  bert_run_config_free(&c);
  CHECK(parse(&c, "--he", &err) == BERT_RUN_HELP);
  bert_run_config_free(&c);
  CHECK(parse_in(&c, BERT_PROGRAM_SQUAD, NULL, "--help", &err) == BERT_RUN_HELP);
  mem = open_memstream(&text, &n);
  bert_run_config_print_help(&c, mem);
  fclose(mem);
  CHECK(!strncmp(text, "usage: bert squad [-h] ", 23));
  free(text);
  bert_run_config_free(&c);

  /* JSON: every option by attribute name, unset ones null, derived values */
  CHECK(parse(&c, "--config unit_test --packed-data", &err) == 0);
  cJSON *j = bert_run_config_to_json(&c);
  CHECK(j != NULL);
  for (int id = 0; j && id < BERT_OPT_COUNT; id++)
    CHECK_MSG(cJSON_GetObjectItemCaseSensitive(j, bert_run_option_name(id)), "json lacks %s", bert_run_option_name(id));
  CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "lr_schedule")) && cJSON_IsNull(cJSON_GetObjectItem(j, "loss_scaling")));
  CHECK(cJSON_GetObjectItem(j, "packing_factor")->valuedouble == 1.17);
  CHECK(cJSON_GetObjectItem(j, "samples_per_step")->valuedouble == 140 && cJSON_GetObjectItem(j, "vocab_size")->valueint == 1000);
  CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "layers_per_ipu")) == 4 &&
        cJSON_IsTrue(cJSON_GetObjectItem(j, "packed_data")) && cJSON_IsString(cJSON_GetObjectItem(j, "precision")));
  cJSON_Delete(j);
  bert_run_config_free(&c);
}

static void check_float(double v, const char *want) {
  bert_strbuf s = {0};
  bert_py_float(v, &s);
  CHECK_MSG(s.data && !strcmp(s.data, want), "%.17g: got %s want %s", v, s.data ? s.data : "", want);
  bert_strbuf_free(&s);
}

static void test_python_floats(void) {
  check_float(16.0, "16.0");
  check_float(0.001, "0.001");
  check_float(1e-5, "1e-05");
  check_float(6e-5, "6e-05");
  check_float(0.0001, "0.0001");
  check_float(1.17, "1.17");
  check_float(2.0, "2.0");
  check_float(0.1, "0.1");
  check_float(-0.5, "-0.5");
  check_float(16384.0, "16384.0");
  check_float(1e16, "1e+16");
  check_float(1234567890123456.0, "1234567890123456.0");
  check_float(1.5e-7, "1.5e-07");
  check_float(0.0, "0.0");
  check_float(0.002828, "0.002828");
}

int main(void) {
  const char *dir = test_tmpdir("options");
  CHECK(dir != NULL);
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s", dir ? dir : "/tmp");
  test_named_configs();
  test_yaml_mechanics(tmp);
  test_command_line();
  test_reference_argparse();
  test_derived();
  test_help_and_json();
  test_python_floats();
  return test_summary("io/test_options");
}
