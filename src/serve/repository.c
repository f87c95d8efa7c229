#include "serve/repository.h"

#include <dirent.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/file.h"
#include "base/log.h"

static int is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int all_digits(const char *s) {
  if (!*s || strlen(s) > 18) return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return 0;
  return 1;
}

int bert_serve_latest_version(const char *model_dir, char *version, size_t cap, bert_error *err) {
  DIR *d = opendir(model_dir);
  if (!d) return bert_error_set(err, BERT_EIO, "%s: cannot list the model folder", model_dir);
  long long best = -1;
  char path[4400];
  for (struct dirent *e; (e = readdir(d));) {
    if (!all_digits(e->d_name)) continue;
    snprintf(path, sizeof path, "%s/%s", model_dir, e->d_name);
    long long v = atoll(e->d_name);
    if (is_dir(path) && v > best) best = v;
  }
  closedir(d);
  if (best < 0) return bert_error_set(err, BERT_EFORMAT, "%s: no version folder (e.g. %s/1/)", model_dir, model_dir);
  snprintf(version, cap, "%lld", best);
  return BERT_OK;
}

static int find_backend(bert_serve_model *m, const char *source, bert_error *err) {
  const char *name = m->config.backend[0] ? m->config.backend : m->config.platform;
  if ((m->backend = bert_serve_backend_find(name))) return BERT_OK;
  char names[256];
  bert_serve_backend_names(names, sizeof names);
  return bert_error_set(err, BERT_EUNSUPPORTED, "%s: backend \"%s\" is not available (this server has %s)", source, name, names);
}

static int start_model(bert_serve_model *m, int threads, bert_error *err) {
  int rc = m->backend->load(&m->config, m->path, &m->state, err);
  if (!rc) rc = bert_serve_stats_init(&m->stats, m->config.max_batch_size, err);
  if (rc) return rc;
  bert_serve_json_limit_init(&m->json_limit, &m->config, m->backend->max_dim ? m->backend->max_dim(m->state) : 0);
  int per_instance = threads / m->config.instance_count;
  bert_serve_batcher_options opt = {&m->config, m->backend, m->state, &m->stats, per_instance > 0 ? per_instance : 1};
  return bert_serve_batcher_start(&m->batcher, &opt, err);
}

static void model_free(bert_serve_model *m) {
  if (!m) return;
  bert_serve_batcher_free(m->batcher);
  if (m->state) m->backend->unload(m->state);
  bert_serve_stats_free(&m->stats);
  bert_serve_model_config_free(&m->config);
  free(m);
}

static int load_model(const char *repo_dir, const char *name, int threads, bert_serve_model **out, bert_error *err) {
  bert_serve_model *m = calloc(1, sizeof *m);
  if (!m) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  char model_dir[4200], config_path[4300];
  snprintf(model_dir, sizeof model_dir, "%s/%s", repo_dir, name);
  snprintf(config_path, sizeof config_path, "%s/config.pbtxt", model_dir);
  int rc = bert_path_exists(config_path) ? BERT_OK
                                         : bert_error_set(err, BERT_EIO, "%s: no config.pbtxt in the model folder", model_dir);
  if (!rc) rc = bert_serve_model_config_load(&m->config, config_path, name, err);
  if (!rc && m->config.warnings.len) bert_warn("%.*s", (int)m->config.warnings.len - 1, m->config.warnings.data);
  if (!rc) rc = bert_serve_latest_version(model_dir, m->version, sizeof m->version, err);
  if (!rc) snprintf(m->path, sizeof m->path, "%s/%s", model_dir, m->version);
  if (!rc) rc = find_backend(m, config_path, err);
  if (!rc) rc = start_model(m, threads, err);
  if (rc) {
    model_free(m);
    return bert_error_prefix(err, "model '%s': ", name);
  }
  bert_log("model '%s' version %s (backend %s, max_batch_size %d, %d instance%s): ready", name, m->version,
           m->backend->name, m->config.max_batch_size, m->config.instance_count, m->config.instance_count == 1 ? "" : "s");
  *out = m;
  return BERT_OK;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The model folder names, sorted (hidden entries and plain files skipped). */
static int list_models(const char *dir, char ***names, int *count, bert_error *err) {
  DIR *d = opendir(dir);
  if (!d) return bert_error_set(err, BERT_EIO, "%s: cannot open the model repository", dir);
  *names = NULL, *count = 0;
  int cap = 0, rc = BERT_OK;
  char path[4400];
  for (struct dirent *e; !rc && (e = readdir(d));) {
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (e->d_name[0] == '.' || !is_dir(path)) continue;
    if (*count == cap) {
      cap = cap ? cap * 2 : 8;
      char **grown = realloc(*names, sizeof *grown * (size_t)cap);
      if (!grown) rc = bert_error_set(err, BERT_ENOMEM, "out of memory");
      else *names = grown;
    }
    if (!rc && !((*names)[(*count)++] = strdup(e->d_name))) rc = bert_error_set(err, BERT_ENOMEM, "out of memory");
  }
  closedir(d);
  if (!rc && *count) qsort(*names, (size_t)*count, sizeof **names, by_name);
  return rc;
}

int bert_serve_repository_load(bert_serve_repository *repo, const char *dir, int threads, bert_error *err) {
  memset(repo, 0, sizeof *repo);
  snprintf(repo->path, sizeof repo->path, "%s", dir);
  char **names;
  int count, rc = list_models(dir, &names, &count, err);
  if (!rc && !count) rc = bert_error_set(err, BERT_EFORMAT, "%s: the model repository holds no model folder", dir);
  if (!rc && !(repo->models = calloc((size_t)count, sizeof *repo->models))) rc = bert_error_set(err, BERT_ENOMEM, "out of memory");
  if (threads <= 0) threads = omp_get_max_threads();
  for (int i = 0; !rc && i < count; i++) {
    rc = load_model(dir, names[i], threads, &repo->models[i], err);
    if (!rc) repo->count++;
  }
  for (int i = 0; i < count; i++) free(names[i]);
  free(names);
  if (rc) bert_serve_repository_free(repo);
  return rc;
}

void bert_serve_repository_flush(bert_serve_repository *repo) {
  for (int i = 0; i < repo->count; i++) bert_serve_batcher_flush(repo->models[i]->batcher);
}

void bert_serve_repository_stop(bert_serve_repository *repo) {
  /* the batchers stay (stopped) until repository_free: HTTP threads may still submit to them */
  for (int i = 0; i < repo->count; i++) bert_serve_batcher_stop(repo->models[i]->batcher);
}

void bert_serve_repository_free(bert_serve_repository *repo) {
  for (int i = 0; i < repo->count; i++) model_free(repo->models[i]);
  free(repo->models);
  memset(repo, 0, sizeof *repo);
}

bert_serve_model *bert_serve_repository_find(const bert_serve_repository *repo, const char *name) {
  for (int i = 0; i < repo->count; i++)
    if (!strcmp(repo->models[i]->config.name, name)) return repo->models[i];
  return NULL;
}
