#include "train/run_checkpoint.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/file.h"
#include "model/checkpoint.h"

static int write_state(const char *dir, const bert_train_state *s, bert_error *err) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return bert_error_set(err, BERT_ENOMEM, "out of memory");
  cJSON_AddNumberToObject(o, "step", (double)s->step);
  cJSON_AddNumberToObject(o, "total_steps", (double)s->total_steps);
  cJSON_AddNumberToObject(o, "loss_scale", s->loss_scale);
  char seed[32];
  snprintf(seed, sizeof seed, "%llu", (unsigned long long)s->seed); /* exact beyond 2^53 */
  cJSON_AddStringToObject(o, "seed", seed);
  cJSON_AddStringToObject(o, "optimizer", s->optimizer);
  cJSON_AddStringToObject(o, "lr_schedule", s->schedule);
  cJSON_AddNumberToObject(o, "data_step", (double)s->step);
  char *text = cJSON_Print(o);
  cJSON_Delete(o);
  char path[4096];
  int rc = bert_path_join(path, sizeof path, dir, "training_state.json");
  if (!rc) rc = text ? bert_file_write_atomic(path, text, strlen(text), err) : BERT_ENOMEM;
  free(text);
  return rc;
}

int bert_run_checkpoint_save(const char *out_dir, const bert_model *m, const bert_optimizer *opt,
                             const bert_train_state *state, const bert_checkpoint_files *files, bert_error *err) {
  char name[64], final_dir[4096], tmp_dir[4096], path[4096];
  snprintf(name, sizeof name, "step_%lld", (long long)state->step);
  int rc = bert_output_dir_prepare(out_dir, err);
  if (!rc) rc = bert_path_join(final_dir, sizeof final_dir, out_dir, name);
  if (!rc) rc = bert_partial_path(tmp_dir, sizeof tmp_dir, final_dir);
  if (rc) return rc == BERT_EINVAL ? bert_error_set(err, rc, "%s: path too long", out_dir) : rc;
  if (bert_path_exists(final_dir)) return bert_error_set(err, BERT_EIO, "%s already exists", final_dir);
  bert_remove_tree(tmp_dir); /* leftovers of a crashed attempt of this process id */
  rc = bert_checkpoint_save(m, tmp_dir, files->vocab_path, files->do_lower_case, err);
  if (!rc) rc = bert_path_join(path, sizeof path, tmp_dir, "optimizer.safetensors");
  if (!rc) rc = bert_optimizer_save(opt, path, err);
  if (!rc) rc = write_state(tmp_dir, state, err);
  if (!rc) rc = bert_dir_publish(tmp_dir, final_dir, err);
  if (rc) bert_remove_tree(tmp_dir);
  return rc;
}

/* N of a "step_N" name, or -1. */
static long long step_number(const char *name) {
  if (strncmp(name, "step_", 5) || !name[5]) return -1;
  char *end;
  long long n = strtoll(name + 5, &end, 10);
  return *end || n < 0 ? -1 : n;
}

/* Highest N among dir's step_N folders, or -1. */
static long long highest_step(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  long long best = -1;
  struct dirent *e;
  while ((e = readdir(d))) {
    long long n = step_number(e->d_name);
    if (n > best) best = n;
  }
  closedir(d);
  return best;
}

int bert_run_checkpoint_exists(const char *dir) { return highest_step(dir) >= 0; }

int bert_run_checkpoint_resolve(const char *input, char *out, size_t cap, bert_error *err) {
  const char *slash = strrchr(input, '/');
  const char *last = slash && slash[1] ? slash + 1 : input;
  long long best = strstr(last, "step_") ? -1 : highest_step(input);
  int n = best >= 0 ? snprintf(out, cap, "%s/step_%lld", input, best) : snprintf(out, cap, "%s", input);
  if (n < 0 || (size_t)n >= cap) return bert_error_set(err, BERT_EINVAL, "%s: path too long", input);
  struct stat st;
  if (stat(out, &st) != 0 || !S_ISDIR(st.st_mode))
    return bert_error_set(err, BERT_EIO, "--checkpoint-input-dir %s: no such folder", out);
  return BERT_OK;
}

static int read_state(const char *dir, bert_train_state *s, bert_error *err) {
  char path[4096], *text;
  size_t size;
  int rc = bert_path_join(path, sizeof path, dir, "training_state.json");
  if (!rc) rc = bert_file_read(path, &text, &size, err);
  if (rc) return bert_error_prefix(err, "resume: ");
  cJSON *o = cJSON_Parse(text);
  free(text);
  const cJSON *step = cJSON_GetObjectItem(o, "step"), *scale = cJSON_GetObjectItem(o, "loss_scale");
  const char *seed = cJSON_GetStringValue(cJSON_GetObjectItem(o, "seed"));
  if (!cJSON_IsNumber(step) || step->valuedouble < 0 || !cJSON_IsNumber(scale) || !seed) {
    cJSON_Delete(o);
    return bert_error_set(err, BERT_EFORMAT, "%s: expected step, loss_scale and seed", path);
  }
  memset(s, 0, sizeof *s);
  s->step = (int64_t)step->valuedouble;
  s->loss_scale = scale->valuedouble;
  s->seed = strtoull(seed, NULL, 10);
  const cJSON *total = cJSON_GetObjectItem(o, "total_steps");
  if (cJSON_IsNumber(total)) s->total_steps = (int64_t)total->valuedouble;
  const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(o, "optimizer"));
  snprintf(s->optimizer, sizeof s->optimizer, "%s", name ? name : "");
  name = cJSON_GetStringValue(cJSON_GetObjectItem(o, "lr_schedule"));
  snprintf(s->schedule, sizeof s->schedule, "%s", name ? name : "");
  cJSON_Delete(o);
  return BERT_OK;
}

int bert_run_checkpoint_load_state(const char *dir, bert_train_state *state, bert_optimizer *opt, bert_error *err) {
  int rc = read_state(dir, state, err);
  if (rc) return rc;
  char path[4096];
  if ((rc = bert_path_join(path, sizeof path, dir, "optimizer.safetensors")))
    return bert_error_set(err, rc, "%s: path too long", dir);
  if ((rc = bert_optimizer_load(opt, path, err))) return bert_error_prefix(err, "resume: ");
  return BERT_OK;
}
