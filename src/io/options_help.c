/* io/options_help: what the run configuration prints — argparse-style usage and --help (with
 * ArgumentDefaultsHelpFormatter's "(default: X)"), the reference's start-up log lines, and the
 * layer -> IPU map of the reference's "Device Allocation" table. */
#include <ctype.h>
#include <string.h>

#include "io/options_internal.h"

#define HELP_WIDTH 78   /* argparse: terminal width (80 when not a terminal) - 2 */
#define HELP_COLUMN 24  /* argparse's max_help_position */

/* "MICRO_BATCH_SIZE", "{AdamW,LAMB,LAMBNoBiasCorrection}" or "{2,3}". */
static void metavar(const bert_opt_def *d, bert_program program, bert_strbuf *out) {
  const char *const *c = bert_opt_choices(d, program);
  if (c) {
    bert_strbuf_puts(out, "{");
    for (int i = 0; c[i]; i++) bert_strbuf_printf(out, "%s%s", i ? "," : "", c[i]);
    bert_strbuf_puts(out, "}");
    return;
  }
  for (const char *p = d->dest; *p; p++) bert_strbuf_printf(out, "%c", toupper((unsigned char)*p));
}

/* One option string with its arguments: "--x X", "--x [X]", "--x X [X ...]" or "--x". */
static void invocation(const bert_opt_def *d, const char *name, bert_program program, bert_strbuf *out) {
  bert_strbuf mv = {0};
  metavar(d, program, &mv);
  const char *m = mv.data ? mv.data : "";
  bert_strbuf_printf(out, "--%s", name);
  switch (d->type) {
    case OPT_FLAG: break;
    case OPT_BOOL:
    case OPT_OPT_FLOAT: bert_strbuf_printf(out, " [%s]", m); break;
    case OPT_INT_LIST:
    case OPT_FLOAT_LIST:
    case OPT_STRING_LIST: bert_strbuf_printf(out, " %s [%s ...]", m, m); break;
    default: bert_strbuf_printf(out, " %s", m); break;
  }
  bert_strbuf_free(&mv);
}

void bert_run_config_print_usage(bert_program program, FILE *out) {
  char prefix[64];
  int indent = snprintf(prefix, sizeof prefix, "usage: bert %s ", bert_program_name(program));
  fprintf(out, "%s[-h]", prefix);
  int col = indent + 4;
  for (int id = 0; id < BERT_OPT_COUNT; id++) {
    bert_strbuf item = {0};
    bert_strbuf_puts(&item, "[");
    invocation(&bert_opt_table[id], bert_opt_table[id].name, program, &item);
    bert_strbuf_puts(&item, "]");
    if (item.data && col + 1 + (int)item.len > HELP_WIDTH) {
      fprintf(out, "\n%*s%s", indent, "", item.data);
      col = indent + (int)item.len;
    } else if (item.data) {
      fprintf(out, " %s", item.data);
      col += 1 + (int)item.len;
    }
    bert_strbuf_free(&item);
  }
  fputc('\n', out);
}

/* Words of `text` wrapped to the help column's width, later lines indented to it. */
static void wrap_help(const char *text, FILE *out) {
  int width = HELP_WIDTH - HELP_COLUMN, col = 0;
  while (*text) {
    while (*text == ' ') text++;
    size_t n = strcspn(text, " ");
    if (!n) break;
    if (col && col + 1 + (int)n > width) {
      fprintf(out, "\n%*s", HELP_COLUMN, "");
      col = 0;
    }
    fprintf(out, "%s%.*s", col ? " " : "", (int)n, text);
    col += (col ? 1 : 0) + (int)n;
    text += n;
  }
  fputc('\n', out);
}

static void help_entry(const char *header, const char *help, FILE *out) {
  int width = HELP_COLUMN - 4; /* 2 of indent, 2 of gap */
  if ((int)strlen(header) <= width) fprintf(out, "  %-*s  ", width, header);
  else fprintf(out, "  %s\n%*s", header, HELP_COLUMN, "");
  wrap_help(help, out);
}

static void help_option(const bert_run_config *cfg, const bert_opt_def *d, FILE *out) {
  bert_strbuf header = {0}, help = {0};
  invocation(d, d->name, cfg->program, &header);
  if (d->alias) {
    bert_strbuf_puts(&header, ", ");
    invocation(d, d->alias, cfg->program, &header);
  }
  bert_strbuf_puts(&help, d->help);
  /* Both commands take every option, as the reference's shared parser does; say which is moot. */
  if (d->flags & (cfg->program == BERT_PROGRAM_SQUAD ? OPTF_PRETRAIN_ONLY : OPTF_SQUAD_ONLY))
    bert_strbuf_printf(&help, " [not used by bert %s]", bert_program_name(cfg->program));
  bert_strbuf_puts(&help, " (default: ");
  bert_opt_format(cfg, d, &help);
  bert_strbuf_puts(&help, ")");
  if (header.data && help.data) help_entry(header.data, help.data, out);
  bert_strbuf_free(&header);
  bert_strbuf_free(&help);
}

void bert_run_config_print_help(const bert_run_config *cfg, FILE *out) {
  bool squad = cfg->program == BERT_PROGRAM_SQUAD;
  bert_run_config_print_usage(cfg->program, out);
  fprintf(out, "\n%s\nOptions default to the --config section of %s\n"
               "(its keys are the options' names with underscores); the command line overrides\n"
               "them. Unambiguous prefixes of option names are accepted.\n",
          squad ? "Fine-tunes and evaluates BERT on SQuAD, as Graphcore's run_squad.py."
                : "Pretrains BERT (masked LM + next sentence prediction), as Graphcore's\nrun_pretraining.py.",
          cfg->config_file ? cfg->config_file : squad ? "configs/squad.yml" : "configs/pretraining.yml");
  fprintf(out, "\noptions:\n");
  help_entry("-h, --help", "show this help message and exit", out);
  for (int g = 0; g < GROUP_COUNT; g++) {
    fprintf(out, "\n%s:\n", bert_opt_group_title[g]);
    for (int id = 0; id < BERT_OPT_COUNT; id++)
      if (bert_opt_table[id].group == (bert_opt_group)g) help_option(cfg, &bert_opt_table[id], out);
  }
  fprintf(out, "\nSee docs/configuration.md for the named configurations and the options that have no\n"
               "effect on CPU.\n");
}

int bert_run_config_from_args(bert_run_config *cfg, bert_program program, int argc, char **argv) {
  bert_error err = {0};
  int rc = bert_run_config_parse(cfg, program, argc, argv, NULL, &err);
  if (rc == BERT_RUN_HELP) {
    bert_run_config_print_help(cfg, stdout);
    return 0;
  }
  if (rc == 0) return -1;
  if (rc == BERT_EINVAL) bert_run_config_print_usage(program, stderr);
  fprintf(stderr, "bert %s: error: %s\n", bert_program_name(program), err.message);
  return rc == BERT_EINVAL ? 2 : 1;
}

/* Whether an IPU-only option asks for something (so that saying it has no effect is news). */
static bool active(const bert_run_config *cfg, const bert_opt_def *d) {
  bert_opt_id id = (bert_opt_id)(d - bert_opt_table);
  const void *f = opt_cfield(cfg, d);
  if (!cfg->is_set[id]) return false;
  switch (d->type) {
    case OPT_BOOL:
    case OPT_FLAG: return *(const bool *)f;
    case OPT_STRING: return **(char *const *)f != 0;
    case OPT_INT: /* one IPU per replica, one embedding piece: the CPU's own layout */
      return *(const int *)f != 1;
    default: return true;
  }
}

void bert_run_config_no_effect(const bert_run_config *cfg, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = 0;
  for (int id = 0; id < BERT_OPT_COUNT && used < size; id++) {
    const bert_opt_def *d = &bert_opt_table[id];
    bool ipu = (d->flags & OPTF_NO_CPU_EFFECT) && active(cfg, d);
    /* Loss scaling adapts only where gradients are half precision. */
    bool als = id == BERT_OPT_AUTO_LOSS_SCALING && cfg->auto_loss_scaling &&
               !(cfg->precision && !strcmp(cfg->precision, "fp16"));
    if (ipu || als) used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "", d->dest);
  }
}

void bert_run_config_log(const bert_run_config *cfg, FILE *out) {
  if (cfg->unknown_yaml_keys) fprintf(out, " Warning: Unknown arg(s) in config file: %s\n", cfg->unknown_yaml_keys);
  fprintf(out, "Using config: %s\n", cfg->config);
  if (cfg->packed_data && cfg->packing_factor_used > 0) {
    bert_strbuf f = {0};
    bert_py_float(cfg->packing_factor_used, &f);
    fprintf(out, "Packing enabled. Adjusting gradient accumulation down by the packing factor, %s: %d -> %d\n",
            f.data ? f.data : "?", cfg->gradient_accumulation_unpacked, cfg->gradient_accumulation);
    bert_strbuf_free(&f);
  }
  char names[2048];
  bert_run_config_no_effect(cfg, names, sizeof names);
  if (names[0]) fprintf(out, "No effect on CPU (IPU-only options): %s\n", names);
  if (cfg->wandb) fprintf(out, "Weights & Biases logging is not supported: per-step metrics go to the metrics file\n");
}

void bert_run_config_layer_ipu(const bert_run_config *cfg, int *ipu_of_layer) {
  int layer = 0;
  for (int ipu = 0; ipu < cfg->layers_per_ipu.count; ipu++)
    for (int k = 0; k < cfg->layers_per_ipu.v[ipu] && layer < cfg->num_hidden_layers; k++)
      ipu_of_layer[layer++] = ipu;
  while (layer < cfg->num_hidden_layers) ipu_of_layer[layer++] = 0; /* no IPU layout given */
}
