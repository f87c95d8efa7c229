/* io/options: the reference's parse_bert_args in C — defaults, YAML section, command line, then
 * the post-processing of REFERENCE 1.1 step 8. Values are converted the way argparse's `type`
 * functions do (int(), float(), str_to_bool, yaml.safe_load for the dict). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/file.h"
#include "io/options_internal.h"
#include "io/yaml_config.h"

#define OPT_HELP (-2) /* lookup result for -h / --help */

/* ---- converting one text value (argparse `type=`) ---------------------------------------- */

static const char *skip_space(const char *s) {
  while (isspace((unsigned char)*s)) s++;
  return s;
}

static bool only_space(const char *s) { return !*skip_space(s); }

/* Python int(): optional sign and decimal digits, surrounding spaces allowed. */
static bool text_to_int(const char *s, int *out) {
  s = skip_space(s);
  const char *p = s + (*s == '+' || *s == '-');
  if (!isdigit((unsigned char)*p)) return false;
  errno = 0;
  char *end;
  long v = strtol(s, &end, 10);
  if (errno || v < INT_MIN || v > INT_MAX || !only_space(end)) return false;
  *out = (int)v;
  return true;
}

/* Python float(): decimal or exponent notation ("6e-5", ".5", "16."), inf, nan; no hex. */
static bool text_to_float(const char *s, double *out) {
  s = skip_space(s);
  if (strpbrk(s, "xX")) return false;
  const char *p = s + (*s == '+' || *s == '-');
  bool digits = isdigit((unsigned char)p[0]) || (p[0] == '.' && isdigit((unsigned char)p[1]));
  if (!digits && strncasecmp(p, "inf", 3) && strncasecmp(p, "nan", 3)) return false;
  char *end;
  double v = strtod(s, &end);
  if (end == s || !only_space(end)) return false;
  *out = v;
  return true;
}

/* The reference's str_to_bool; YAML 1.1 also reads unquoted on/off as booleans. */
static bool text_to_bool(const char *s, bool yaml_plain, bool *out) {
  static const char *const yes[] = {"true", "t", "1", "yes", "y"}, *const no[] = {"false", "f", "0", "no", "n"};
  for (int i = 0; i < 5; i++) {
    if (!strcasecmp(s, yes[i])) return *out = true, true;
    if (!strcasecmp(s, no[i])) return *out = false, true;
  }
  if (yaml_plain && (!strcmp(s, "on") || !strcmp(s, "On") || !strcmp(s, "ON"))) return *out = true, true;
  if (yaml_plain && (!strcmp(s, "off") || !strcmp(s, "Off") || !strcmp(s, "OFF"))) return *out = false, true;
  return false;
}

static int int_min(const bert_opt_def *d) { return d->flags & OPTF_ANY_INT ? INT_MIN : d->min; }

static int bad_int(const bert_opt_def *d, const char *where, const char *text, bert_error *err) {
  if (int_min(d) == INT_MIN)
    return bert_error_set(err, BERT_EINVAL, "%s: invalid int value: '%s' (expected an integer)", where, text);
  return bert_error_set(err, BERT_EINVAL, "%s: invalid int value: '%s' (expected an integer >= %d)", where, text,
                        int_min(d));
}

static void join_choices(const char *const *c, bool quote, char *buf, size_t size) {
  size_t n = 0;
  buf[0] = 0;
  for (int i = 0; c[i] && n < size; i++)
    n += (size_t)snprintf(buf + n, size - n, quote ? "%s'%s'" : "%s%s", i ? ", " : "", c[i]);
}

static int bad_choice(const bert_opt_def *d, bert_program program, const char *where, const char *shown,
                      bool quote, bert_error *err) {
  char list[256];
  join_choices(bert_opt_choices(d, program), quote, list, sizeof list);
  return bert_error_set(err, BERT_EINVAL, "%s: invalid choice: %s (choose from %s)", where, shown, list);
}

static int convert_int(const bert_opt_def *d, bert_program program, const char *text, const char *where, int *out,
                       bert_error *err) {
  if (!text_to_int(text, out) || *out < int_min(d)) return bad_int(d, where, text, err);
  if (!d->choices) return 0;
  for (int i = 0; d->choices[i]; i++)
    if (atoi(d->choices[i]) == *out) return 0;
  char shown[32];
  snprintf(shown, sizeof shown, "%d", *out);
  return bad_choice(d, program, where, shown, false, err);
}

static int convert_float(const bert_opt_def *d, const char *text, const char *where, double *out, bert_error *err) {
  bool ok = text_to_float(text, out);
  double v = *out;
  if (ok && (d->bounds & BOUND_LO)) ok = (d->bounds & BOUND_LO_OPEN) ? v > d->lo : v >= d->lo;
  if (ok && (d->bounds & BOUND_HI)) ok = v <= d->hi;
  if (ok) return 0;
  if (!(d->bounds & (BOUND_LO | BOUND_HI)))
    return bert_error_set(err, BERT_EINVAL, "%s: invalid float value: '%s' (expected a number)", where, text);
  char range[64];
  if ((d->bounds & BOUND_LO) && (d->bounds & BOUND_HI)) snprintf(range, sizeof range, "in [%g, %g]", d->lo, d->hi);
  else snprintf(range, sizeof range, "%s %g", d->bounds & BOUND_LO_OPEN ? ">" : ">=", d->lo);
  return bert_error_set(err, BERT_EINVAL, "%s: invalid float value: '%s' (expected a number %s)", where, text, range);
}

static int set_string(char **field, const char *text, bert_error *err) {
  char *copy = strdup(text);
  if (!copy) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  free(*field);
  *field = copy;
  return 0;
}

/* ---- the dict option (packing_factor) ---------------------------------------------------- */

static int dict_error(const char *where, const char *text, bert_error *err) {
  return bert_error_set(err, BERT_EINVAL,
                        "%s: %s is not a valid dict value (expected sequence length: packing factor pairs, "
                        "e.g. {128: 1.17, 384: 1.7, 512: 2.0})",
                        where, text);
}

static int dict_from_node(bert_yaml *y, yaml_node_t *node, const char *where, const char *text, bert_run_dict *out,
                          bert_error *err) {
  bert_yaml_map m;
  bert_error sub;
  if (!node || node->type != YAML_MAPPING_NODE) return dict_error(where, text, err);
  int rc = bert_yaml_mapping(y, node, &m, &sub);
  if (rc == BERT_ENOMEM) return bert_error_set(err, rc, "%s: %s", where, sub.message); /* not the value's fault */
  if (rc) return dict_error(where, text, err);
  out->count = 0;
  for (size_t i = 0; i < m.count && !rc; i++) {
    int key;
    double value;
    const char *v = bert_yaml_scalar(m.items[i].value);
    if (!text_to_int(m.items[i].key, &key) || !v || !text_to_float(v, &value) || out->count == BERT_RUN_MAX_DICT)
      rc = dict_error(where, text, err);
    else {
      out->key[out->count] = key;
      out->value[out->count++] = value;
    }
  }
  bert_yaml_map_free(&m);
  return rc;
}

/* argparse's dict_arg: the text is YAML and must be a mapping. */
static int dict_from_text(const char *text, const char *where, bert_run_dict *out, bert_error *err) {
  bert_yaml y;
  bert_error sub;
  int rc = bert_yaml_load_string(&y, text, where, &sub);
  if (rc == BERT_ENOMEM) rc = bert_error_set(err, rc, "%s", sub.message);
  else rc = rc ? dict_error(where, text, err) : dict_from_node(&y, bert_yaml_root(&y), where, text, out, err);
  bert_yaml_free(&y);
  return rc;
}

/* ---- setting a field --------------------------------------------------------------------- */

/* A list option from n text values (replacing what it held: the last occurrence wins). */
static int set_list(bert_run_config *cfg, const bert_opt_def *d, const char *const *v, int n, const char *where,
                    bert_error *err) {
  /* Numeric lists are fixed arrays; file lists grow (a shell glob can give thousands). */
  if (n > BERT_RUN_MAX_LIST && d->type != OPT_STRING_LIST)
    return bert_error_set(err, BERT_EINVAL, "%s: at most %d values", where, BERT_RUN_MAX_LIST);
  void *f = opt_field(cfg, d);
  bert_opt_clear(cfg, d);
  int rc = 0;
  for (int i = 0; i < n && !rc; i++) {
    if (d->type == OPT_INT_LIST) {
      bert_run_int_list *l = f;
      rc = convert_int(d, cfg->program, v[i], where, &l->v[l->count++], err);
    } else if (d->type == OPT_FLOAT_LIST) {
      bert_run_float_list *l = f;
      rc = convert_float(d, v[i], where, &l->v[l->count++], err);
    } else {
      rc = bert_strlist_push(f, v[i], err);
    }
  }
  return rc;
}

/* Sets option `d` from the text values `v[0..n-1]` (n > 1 only for lists); `plain` tells that a
 * single value was an unquoted YAML scalar. `where` prefixes messages. */
static int set_values(bert_run_config *cfg, const bert_opt_def *d, const char *const *v, int n, bool plain,
                      const char *where, bert_error *err) {
  void *f = opt_field(cfg, d);
  int rc = 0;
  switch (d->type) {
    case OPT_INT: rc = convert_int(d, cfg->program, v[0], where, f, err); break;
    case OPT_FLOAT:
    case OPT_OPT_FLOAT: rc = convert_float(d, v[0], where, f, err); break;
    case OPT_BOOL:
    case OPT_FLAG:
      if (!text_to_bool(v[0], plain, f))
        rc = bert_error_set(err, BERT_EINVAL,
                            "%s: %s is not a valid boolean value (expected true/t/1/yes/y or false/f/0/no/n)",
                            where, v[0]);
      break;
    case OPT_CHOICE: {
      const char *const *c = bert_opt_choices(d, cfg->program);
      int i = 0;
      while (c[i] && strcmp(c[i], v[0])) i++;
      if (!c[i]) {
        char shown[300];
        snprintf(shown, sizeof shown, "'%.290s'", v[0]);
        return bad_choice(d, cfg->program, where, shown, true, err);
      }
      rc = set_string(f, v[0], err);
      break;
    }
    case OPT_STRING: rc = set_string(f, v[0], err); break;
    case OPT_INT_LIST:
    case OPT_FLOAT_LIST:
    case OPT_STRING_LIST: rc = set_list(cfg, d, v, n, where, err); break;
    case OPT_DICT: rc = dict_from_text(v[0], where, f, err); break;
  }
  if (!rc) cfg->is_set[d - bert_opt_table] = 1;
  return rc;
}

static void unset(bert_run_config *cfg, const bert_opt_def *d) {
  bert_opt_clear(cfg, d);
  cfg->is_set[d - bert_opt_table] = 0;
}

static int apply_defaults(bert_run_config *cfg, bert_error *err) {
  for (int id = 0; id < BERT_OPT_COUNT; id++) {
    const bert_opt_def *d = &bert_opt_table[id];
    if (!d->def) continue;
    int rc = set_values(cfg, d, &d->def, 1, false, d->dest, err);
    if (rc) return rc;
  }
  return 0;
}

/* ---- option lookup (argparse: exact name, else an unambiguous prefix) --------------------- */

/* Finds the option named by `name` (without dashes, `len` bytes): its id, OPT_HELP, -1 when no
 * option matches; an ambiguous prefix is an error listing the candidates. */
static int lookup(const char *name, size_t len, int *id, bert_error *err) {
  int found = -1, matches = 0;
  char list[1024] = "";
  size_t used = 0;
  for (int i = -1; i < BERT_OPT_COUNT; i++) {
    const char *names[2] = {i < 0 ? "help" : bert_opt_table[i].name, i < 0 ? NULL : bert_opt_table[i].alias};
    for (int k = 0; k < 2 && names[k]; k++) {
      if (strlen(names[k]) == len && !strncmp(names[k], name, len)) {
        *id = i < 0 ? OPT_HELP : i;
        return 0;
      }
      if (strncmp(names[k], name, len)) continue;
      found = i < 0 ? OPT_HELP : i;
      matches++;
      if (used < sizeof list)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s--%s", matches > 1 ? ", " : "", names[k]);
    }
  }
  *id = found;
  if (matches > 1)
    return bert_error_set(err, BERT_EINVAL, "ambiguous option: --%.*s could match %s", (int)len, name, list);
  return 0;
}

/* argparse's negative-number pattern: such arguments are values, not options. */
static bool is_negative_number(const char *s) {
  if (*s++ != '-') return false;
  const char *dot = strchr(s, '.');
  size_t n = strspn(s, "0123456789");
  if (!dot) return n > 0 && !s[n];
  return n == (size_t)(dot - s) && dot[1] && strspn(dot + 1, "0123456789") == strlen(dot + 1);
}

enum { ARG_VALUE, ARG_OPTION, ARG_UNKNOWN };

/* Classifies one argument as argparse does; for an option, sets *id and *explicit (the text after
 * '=', or NULL). Returns ARG_* or a negative error (ambiguous prefix). */
static int classify(const char *a, int *id, const char **explicit, bert_error *err) {
  *explicit = NULL;
  if (a[0] != '-' || !a[1]) return ARG_VALUE;
  if (!strcmp(a, "-h")) return *id = OPT_HELP, ARG_OPTION;
  if (a[1] == '-' && a[2]) {
    const char *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
    int rc = lookup(a + 2, len, id, err);
    if (rc) return rc;
    if (*id != -1) return *explicit = eq ? eq + 1 : NULL, ARG_OPTION;
  }
  if (is_negative_number(a) || strchr(a, ' ')) return ARG_VALUE;
  return ARG_UNKNOWN;
}

static bool is_value(const char *a) {
  int id;
  const char *explicit;
  return classify(a, &id, &explicit, NULL) == ARG_VALUE;
}

/* ---- the command line -------------------------------------------------------------------- */

/* Consumes the values of option `d` at argv[*i] and sets it; advances *i past them. */
static int take_option(bert_run_config *cfg, const bert_opt_def *d, const char *explicit, int argc, char **argv,
                       int *i, bert_error *err) {
  char where[128];
  snprintf(where, sizeof where, "argument --%s", d->name);
  bool list = d->type == OPT_INT_LIST || d->type == OPT_FLOAT_LIST || d->type == OPT_STRING_LIST;
  bool optional = d->type == OPT_BOOL || d->type == OPT_OPT_FLOAT;
  if (d->type == OPT_FLAG) {
    if (explicit) return bert_error_set(err, BERT_EINVAL, "%s: ignored explicit argument '%s'", where, explicit);
    *(bool *)opt_field(cfg, d) = true;
    cfg->is_set[d - bert_opt_table] = 1;
    return 0;
  }
  if (explicit) return set_values(cfg, d, &explicit, 1, false, where, err);
  int n = 0;
  while (*i + 1 + n < argc && is_value(argv[*i + 1 + n]) && (list || n < 1)) n++;
  if (n == 0 && optional) {
    if (d->type == OPT_BOOL) *(bool *)opt_field(cfg, d) = true;
    else *(double *)opt_field(cfg, d) = d->konst;
    cfg->is_set[d - bert_opt_table] = 1;
    return 0;
  }
  if (n == 0)
    return bert_error_set(err, BERT_EINVAL, "%s: expected %s", where, list ? "at least one argument" : "one argument");
  int rc = set_values(cfg, d, (const char *const *)&argv[*i + 1], n, false, where, err);
  *i += n;
  return rc;
}

static int unrecognized(int argc, char **argv, const unsigned char *bad, bert_error *err) {
  char list[900] = "";
  size_t used = 0;
  for (int i = 1; i < argc && used < sizeof list; i++)
    if (bad[i]) used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? " " : "", argv[i]);
  return bert_error_set(err, BERT_EINVAL, "unrecognized arguments: %s", list);
}

static int parse_command_line(bert_run_config *cfg, int argc, char **argv, bert_error *err) {
  unsigned char *bad = calloc((size_t)argc + 1, 1);
  if (!bad) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  int rc = 0, nbad = 0;
  for (int i = 1; i < argc && !rc; i++) {
    if (!strcmp(argv[i], "--")) { /* everything after is positional, and we take none */
      for (i++; i < argc; i++) bad[i] = 1, nbad++;
      break;
    }
    int id;
    const char *explicit;
    int kind = classify(argv[i], &id, &explicit, err);
    if (kind < 0) rc = kind;
    else if (kind != ARG_OPTION) bad[i] = 1, nbad++;
    else if (id == OPT_HELP && explicit)
      rc = bert_error_set(err, BERT_EINVAL, "argument -h/--help: ignored explicit argument '%s'", explicit);
    else if (id == OPT_HELP) rc = BERT_RUN_HELP;
    else rc = take_option(cfg, &bert_opt_table[id], explicit, argc, argv, &i, err);
  }
  if (!rc && nbad) rc = unrecognized(argc, argv, bad, err);
  free(bad);
  return rc;
}

/* The pre-parser: the last --config / --config-file on the command line (or their prefixes). */
static void prescan(int argc, char **argv, const char **config, const char **config_file) {
  for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
    int id;
    const char *explicit;
    if (classify(argv[i], &id, &explicit, NULL) != ARG_OPTION) continue;
    if (id != BERT_OPT_CONFIG && id != BERT_OPT_CONFIG_FILE) continue;
    const char *v = explicit ? explicit : i + 1 < argc && is_value(argv[i + 1]) ? argv[i + 1] : NULL;
    if (v) *(id == BERT_OPT_CONFIG ? config : config_file) = v;
  }
}

/* ---- the YAML section -------------------------------------------------------------------- */

static const bert_opt_def *option_for_key(const char *key) {
  for (int id = 0; id < BERT_OPT_COUNT; id++) {
    const bert_opt_def *d = &bert_opt_table[id];
    if (!strcmp(d->dest, key)) return d;
    if (d->alias) { /* the alias's YAML key: dashes -> underscores */
      size_t n = strlen(d->alias);
      bool same = strlen(key) == n;
      for (size_t k = 0; same && k < n; k++) same = key[k] == (d->alias[k] == '-' ? '_' : d->alias[k]);
      if (same) return d;
    }
  }
  return NULL;
}

static int apply_yaml_list(bert_run_config *cfg, bert_yaml *y, const bert_opt_def *d, yaml_node_t *seq,
                           const char *where, bert_error *err) {
  size_t n = bert_yaml_length(seq);
  if (n == 0 || n > INT_MAX) return bert_error_set(err, BERT_EINVAL, "%s: expected at least one value", where);
  const char **texts = malloc(n * sizeof *texts);
  if (!texts) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    texts[i] = bert_yaml_scalar(bert_yaml_item(y, seq, i));
    if (!texts[i]) rc = bert_error_set(err, BERT_EINVAL, "%s: list items must be single values", where);
  }
  if (!rc) rc = set_values(cfg, d, texts, (int)n, false, where, err);
  free(texts);
  return rc;
}

/* YAML values become the options' defaults (argparse's set_defaults), converted by type. */
static int apply_yaml_value(bert_run_config *cfg, bert_yaml *y, const bert_opt_def *d, yaml_node_t *v,
                            const char *where, bert_error *err) {
  if (bert_yaml_is_null(v)) return unset(cfg, d), 0;
  bool list = d->type == OPT_INT_LIST || d->type == OPT_FLOAT_LIST || d->type == OPT_STRING_LIST;
  if (d->type == OPT_DICT) {
    if (v->type == YAML_MAPPING_NODE) {
      int rc = dict_from_node(y, v, where, "the mapping", opt_field(cfg, d), err);
      if (!rc) cfg->is_set[d - bert_opt_table] = 1;
      return rc;
    }
  } else if (v->type == YAML_SEQUENCE_NODE && list) {
    return apply_yaml_list(cfg, y, d, v, where, err);
  }
  const char *text = bert_yaml_scalar(v);
  if (!text)
    return bert_error_set(err, BERT_EINVAL, "%s: expected %s", where, list ? "a value or a list" : "a single value");
  return set_values(cfg, d, &text, 1, bert_yaml_is_plain(v), where, err);
}

/* Python's repr of the set of unknown keys: {'a', 'b'}. */
static int note_unknown(bert_run_config *cfg, const char *key, bert_error *err) {
  bert_strbuf s = {0};
  if (cfg->unknown_yaml_keys) {
    bert_strbuf_append(&s, cfg->unknown_yaml_keys, strlen(cfg->unknown_yaml_keys) - 1);
    bert_strbuf_printf(&s, ", '%s'}", key);
  } else {
    bert_strbuf_printf(&s, "{'%s'}", key);
  }
  if (s.failed) return bert_strbuf_free(&s), bert_error_set(err, BERT_ENOMEM, "out of memory");
  free(cfg->unknown_yaml_keys);
  cfg->unknown_yaml_keys = s.data;
  return 0;
}

static int unknown_config(bert_yaml *y, const bert_yaml_map *root, const char *name, bert_error *err) {
  char names[800] = "";
  size_t used = 0;
  for (size_t i = 0; i < root->count && used < sizeof names; i++)
    used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", root->items[i].key);
  return bert_error_set(err, BERT_EINVAL, "unknown config '%s' in %s; available: %s", name, y->source, names);
}

static int apply_section(bert_run_config *cfg, bert_yaml *y, const bert_yaml_map *section, bert_error *err) {
  for (size_t i = 0; i < section->count; i++) {
    const bert_yaml_pair *p = &section->items[i];
    const bert_opt_def *d = option_for_key(p->key);
    if (!d) {
      int rc = note_unknown(cfg, p->key, err);
      if (rc) return rc;
      continue;
    }
    /* The reference's `config` key only changes a help default; neither names another file. */
    if (d - bert_opt_table == BERT_OPT_CONFIG || d - bert_opt_table == BERT_OPT_CONFIG_FILE) continue;
    char where[512];
    snprintf(where, sizeof where, "%s:%d: %s: %s", y->source, bert_yaml_line(p->value), cfg->config, p->key);
    int rc = apply_yaml_value(cfg, y, d, p->value, where, err);
    if (rc) return rc;
  }
  return 0;
}

static int load_section(bert_run_config *cfg, bert_error *err) {
  bert_yaml y;
  bert_yaml_map root = {0}, section = {0};
  int rc = bert_yaml_load_file(&y, cfg->config_file, err);
  if (!rc) rc = bert_yaml_mapping(&y, bert_yaml_root(&y), &root, err);
  if (!rc) {
    const bert_yaml_pair *p = bert_yaml_map_find(&root, cfg->config);
    if (!p) rc = unknown_config(&y, &root, cfg->config, err);
    else if (!bert_yaml_is_null(p->value)) {
      rc = bert_yaml_mapping(&y, p->value, &section, err);
      if (!rc) rc = apply_section(cfg, &y, &section, err);
    }
  }
  bert_yaml_map_free(&section);
  bert_yaml_map_free(&root);
  bert_yaml_free(&y);
  return rc;
}

/* ---- finding configs/<program>.yml ------------------------------------------------------- */

/* The working directory first (the reference resolves beside its script; we are run from the
 * project root or from an install), then beside the executable (base/file.h). */
static int find_config_file(bert_program program, char *out, size_t size, bert_error *err) {
  const char *file = program == BERT_PROGRAM_SQUAD ? "configs/squad.yml" : "configs/pretraining.yml";
  if (bert_find_project_file(file, out, size) == BERT_OK) return 0;
  return bert_error_set(err, BERT_EIO,
                        "%s not found in the working directory or beside the executable; "
                        "run from the project root or give --config-file",
                        file);
}

/* ---- post-processing (REFERENCE 1.1 step 8) ---------------------------------------------- */

static int require(const bert_run_config *cfg, const bert_opt_id *ids, int n, bert_error *err) {
  for (int i = 0; i < n; i++)
    if (!cfg->is_set[ids[i]])
      return bert_error_set(err, BERT_EINVAL, "%s is not set: give --%s or set %s in config '%s'",
                            bert_opt_table[ids[i]].dest, bert_opt_table[ids[i]].name, bert_opt_table[ids[i]].dest,
                            cfg->config);
  return 0;
}

/* An error whose text shows two options' values the Python way: "<prefix><a><sep><b>". */
static int values_error(const bert_run_config *cfg, const char *prefix, bert_opt_id a, const char *sep,
                        bert_opt_id b, bert_error *err) {
  bert_strbuf s = {0};
  bert_strbuf_puts(&s, prefix);
  bert_opt_format(cfg, &bert_opt_table[a], &s);
  bert_strbuf_puts(&s, sep);
  bert_opt_format(cfg, &bert_opt_table[b], &s);
  int rc = s.failed ? bert_error_set(err, BERT_ENOMEM, "out of memory")
                    : bert_error_set(err, BERT_EINVAL, "%s", s.data);
  bert_strbuf_free(&s);
  return rc;
}

/* A single value n becomes [n] * (layers // n); then the layers must add up. */
static int expand_layers_per_ipu(bert_run_config *cfg, bert_error *err) {
  bert_run_int_list *l = &cfg->layers_per_ipu;
  if (l->count == 1) {
    int n = l->v[0], count = n > 0 ? cfg->num_hidden_layers / n : -1;
    if (count > BERT_RUN_MAX_LIST)
      return bert_error_set(err, BERT_EINVAL, "layers_per_ipu: %d IPUs is more than the %d supported", count,
                            BERT_RUN_MAX_LIST);
    if (count >= 0) {
      l->count = count;
      for (int i = 0; i < count; i++) l->v[i] = n;
    }
  }
  long long sum = 0;
  for (int i = 0; i < l->count; i++) sum += l->v[i];
  if (l->count > 0 && sum == cfg->num_hidden_layers) return 0;
  return values_error(cfg, "layers_per_ipu not compatible with number of hidden layers: ", BERT_OPT_LAYERS_PER_IPU,
                      " and ", BERT_OPT_NUM_HIDDEN_LAYERS, err);
}

/* A single value is repeated for every IPU; any other length must be ipus_per_replica. */
static int expand_matmul_proportion(bert_run_config *cfg, bert_error *err) {
  bert_run_float_list *l = &cfg->matmul_proportion;
  if (l->count == cfg->ipus_per_replica) return 0;
  if (l->count != 1)
    return values_error(cfg, "Length of matmul_proportion doesn't match ipus_per_replica: ",
                        BERT_OPT_MATMUL_PROPORTION, " vs ", BERT_OPT_IPUS_PER_REPLICA, err);
  if (cfg->ipus_per_replica > BERT_RUN_MAX_LIST)
    return bert_error_set(err, BERT_EINVAL, "ipus_per_replica: at most %d", BERT_RUN_MAX_LIST);
  for (int i = 1; i < cfg->ipus_per_replica; i++) l->v[i] = l->v[0];
  l->count = cfg->ipus_per_replica;
  return 0;
}

/* packing_factor[sequence_length]; gradient accumulation = ceil(GA / factor). */
static int apply_packing(bert_run_config *cfg, bert_error *err) {
  static const bert_opt_id need[] = {BERT_OPT_PACKING_FACTOR, BERT_OPT_SEQUENCE_LENGTH};
  int rc = require(cfg, need, 2, err);
  if (rc) return rc;
  const bert_run_dict *m = &cfg->packing_factor;
  int i = 0;
  while (i < m->count && m->key[i] != cfg->sequence_length) i++;
  if (i == m->count)
    return values_error(cfg, "packing_factor ", BERT_OPT_PACKING_FACTOR, " has no entry for sequence_length ",
                        BERT_OPT_SEQUENCE_LENGTH, err);
  double f = m->value[i], ga = ceil(cfg->gradient_accumulation / f);
  if (!(f > 0) || !(ga <= INT_MAX))
    return bert_error_set(err, BERT_EINVAL, "packing_factor for sequence_length %d must be a positive number, not %g",
                          cfg->sequence_length, f);
  cfg->packing_factor_used = f;
  cfg->gradient_accumulation = (int)ga;
  return 0;
}

static int derive_sizes(bert_run_config *cfg, bert_error *err) {
  long long gbs, sps;
  if (__builtin_mul_overflow((long long)cfg->replication_factor * cfg->gradient_accumulation,
                             (long long)cfg->micro_batch_size, &gbs) ||
      __builtin_mul_overflow(gbs, (long long)cfg->device_iterations, &sps))
    return bert_error_set(err, BERT_EINVAL, "replication_factor x gradient_accumulation x micro_batch_size x "
                                            "device_iterations is too large");
  if (cfg->hidden_size > INT_MAX / 4) return bert_error_set(err, BERT_EINVAL, "hidden_size is too large");
  cfg->global_batch_size = gbs;
  cfg->samples_per_step = sps;
  cfg->intermediate_size = 4 * cfg->hidden_size; /* the reference ignores --intermediate-size */
  cfg->is_set[BERT_OPT_INTERMEDIATE_SIZE] = 1;
  return 0;
}

static int post_process(bert_run_config *cfg, bert_error *err) {
  static const bert_opt_id need[] = {BERT_OPT_MICRO_BATCH_SIZE,  BERT_OPT_GRADIENT_ACCUMULATION,
                                     BERT_OPT_REPLICATION_FACTOR, BERT_OPT_DEVICE_ITERATIONS,
                                     BERT_OPT_HIDDEN_SIZE,        BERT_OPT_NUM_HIDDEN_LAYERS};
  int rc = require(cfg, need, (int)(sizeof need / sizeof need[0]), err);
  /* The IPU layout is only checked when given: a CPU config may leave it out (the reference
   * would fail on it). */
  if (!rc && cfg->is_set[BERT_OPT_LAYERS_PER_IPU]) rc = expand_layers_per_ipu(cfg, err);
  if (!rc && cfg->is_set[BERT_OPT_MATMUL_PROPORTION]) {
    static const bert_opt_id ipus[] = {BERT_OPT_IPUS_PER_REPLICA};
    rc = require(cfg, ipus, 1, err);
    if (!rc) rc = expand_matmul_proportion(cfg, err);
  }
  if (!rc && cfg->is_set[BERT_OPT_CHECKPOINT_STEPS] && cfg->checkpoint_steps < 1)
    rc = bert_error_set(err, BERT_EINVAL, "checkpoint-steps must be >=1");
  cfg->gradient_accumulation_unpacked = cfg->gradient_accumulation;
  if (!rc && cfg->packed_data) rc = apply_packing(cfg, err);
  if (!rc) rc = derive_sizes(cfg, err);
  return rc;
}

/* ---- entry points ------------------------------------------------------------------------ */

/* argparse defaults, then the YAML section on top of them. */
static int load_defaults(bert_run_config *cfg, bert_program program, int argc, char **argv, const char *config_file,
                         bert_error *err) {
  memset(cfg, 0, sizeof *cfg);
  cfg->program = program;
  int rc = apply_defaults(cfg, err);
  if (rc) return rc;
  const char *name = NULL, *file = NULL;
  prescan(argc, argv, &name, &file);
  if (name) rc = set_string(&cfg->config, name, err);
  if (!rc && (config_file || file)) rc = set_string(&cfg->config_file, config_file ? config_file : file, err);
  if (!rc && !cfg->config_file) {
    char path[4200];
    rc = find_config_file(program, path, sizeof path, err);
    if (!rc) rc = set_string(&cfg->config_file, path, err);
  }
  if (rc) return rc;
  cfg->is_set[BERT_OPT_CONFIG_FILE] = 1;
  return load_section(cfg, err);
}

int bert_run_config_parse(bert_run_config *cfg, bert_program program, int argc, char **argv,
                          const char *config_file, bert_error *err) {
  int rc = load_defaults(cfg, program, argc, argv, config_file, err);
  if (!rc) rc = parse_command_line(cfg, argc, argv, err);
  if (rc == BERT_RUN_HELP) {
    /* Help shows the defaults (argparse never shows the values given). */
    bert_run_config_free(cfg);
    rc = load_defaults(cfg, program, argc, argv, config_file, err);
    return rc ? rc : BERT_RUN_HELP;
  }
  /* A --config-file on the command line does not replace the file the caller imposed. */
  if (!rc && config_file) rc = set_string(&cfg->config_file, config_file, err);
  return rc ? rc : post_process(cfg, err);
}

void bert_run_config_free(bert_run_config *cfg) {
  if (!cfg) return;
  for (int id = 0; id < BERT_OPT_COUNT; id++) bert_opt_clear(cfg, &bert_opt_table[id]);
  free(cfg->unknown_yaml_keys);
  cfg->unknown_yaml_keys = NULL;
}
