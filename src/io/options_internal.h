/* io/options (internal): the option table shared by the parser, the help printer and the JSON
 * writer, and the helpers that read, write and format a table entry's field in a run config. */
#ifndef BERT_IO_OPTIONS_INTERNAL_H
#define BERT_IO_OPTIONS_INTERNAL_H

#include <stddef.h>

#include "base/strbuf.h"
#include "io/options.h"

typedef enum bert_opt_type {
  OPT_INT,        /* int */
  OPT_FLOAT,      /* double */
  OPT_OPT_FLOAT,  /* double, optional value: a bare flag gives `konst` (attention dropout's quirk) */
  OPT_BOOL,       /* bool, optional value (the reference's str_to_bool with nargs="?") */
  OPT_FLAG,       /* bool, store_true: no value */
  OPT_STRING,     /* char * */
  OPT_CHOICE,     /* char *, one of `choices` */
  OPT_INT_LIST,   /* bert_run_int_list, nargs="+" */
  OPT_FLOAT_LIST, /* bert_run_float_list, nargs="+" */
  OPT_STRING_LIST,/* bert_strlist, nargs="+" */
  OPT_DICT,       /* bert_run_dict, a YAML flow mapping {128: 1.17, ...} */
} bert_opt_type;

enum {
  OPTF_NO_CPU_EFFECT = 1 << 0, /* IPU-only: accepted, validated, reported as having no effect */
  OPTF_PRETRAIN_ONLY = 1 << 1,
  OPTF_SQUAD_ONLY = 1 << 2,
  OPTF_ANY_INT = 1 << 3,       /* no lower bound (ints are >= `min`, 0 unless given) */
  OPTF_BERTC = 1 << 4,         /* not in the reference */
};

enum { BOUND_LO = 1, BOUND_HI = 2, BOUND_LO_OPEN = 4 };

typedef enum bert_opt_group {
  GROUP_CONFIG, GROUP_EXECUTION, GROUP_OPTIMIZER, GROUP_MODEL, GROUP_DATASET, GROUP_MISC, GROUP_CHECKPOINT,
  GROUP_BERTC, GROUP_COUNT
} bert_opt_group;

typedef struct bert_opt_def {
  const char *name;           /* option without dashes: "micro-batch-size" */
  const char *dest;           /* attribute / YAML key: "micro_batch_size" */
  const char *alias;          /* another accepted option name (and YAML key with underscores) */
  bert_opt_type type;
  bert_opt_group group;
  size_t offset;              /* of the field in bert_run_config */
  const char *def;            /* argparse default as text; NULL = None */
  const char *const *choices; /* OPT_CHOICE, or allowed values of an OPT_INT */
  const char *const *squad_choices; /* replaces `choices` for bert squad when set */
  int min;                    /* ints and int lists */
  double lo, hi;              /* floats, with `bounds` */
  unsigned bounds;
  double konst;               /* OPT_OPT_FLOAT's bare-flag value */
  unsigned flags;
  const char *help;
} bert_opt_def;

extern const bert_opt_def bert_opt_table[BERT_OPT_COUNT];
extern const char *const bert_opt_group_title[GROUP_COUNT];

static inline void *opt_field(bert_run_config *cfg, const bert_opt_def *d) { return (char *)cfg + d->offset; }
static inline const void *opt_cfield(const bert_run_config *cfg, const bert_opt_def *d) {
  return (const char *)cfg + d->offset;
}

/* The choices that apply to this program. */
const char *const *bert_opt_choices(const bert_opt_def *d, bert_program program);

/* Frees the field's heap memory and leaves it empty. */
void bert_opt_clear(bert_run_config *cfg, const bert_opt_def *d);
/* Appends the field's value the way Python's str() shows it ("None", "True", "[0, 1]", "0.001",
 * "{128: 1.17}", "['data/x.tfrecord']"): used by --help defaults and the reference's messages. */
void bert_opt_format(const bert_run_config *cfg, const bert_opt_def *d, bert_strbuf *out);
/* Python's repr of a float: shortest round-trip digits, "16.0", "1e-05". */
void bert_py_float(double v, bert_strbuf *out);

#endif
