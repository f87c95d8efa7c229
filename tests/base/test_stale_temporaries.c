/* bert_remove_stale_temporaries: what a killed run left (temporary files and partial folders of
 * a process that no longer runs) is removed; a kept previous version is named, not removed; the
 * temporaries of running processes (this one, its parent) and every other file are left alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/file.h"
#include "test_util.h"

static void touch(const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (f) fclose(f);
}

static int exists(const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return bert_path_exists(path);
}

/* A process id that no longer runs: a child that has exited and been reaped. */
static long dead_pid(void) {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  waitpid(pid, NULL, 0);
  return (long)pid;
}

int main(void) {
  char dir[] = "/tmp/bertc-stale.XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  long dead = dead_pid(), me = (long)getpid(), parent = (long)getppid();
  char name[256], sub[4096];

  /* left by a killed run: removed */
  snprintf(name, sizeof name, "s.tfrecord.tmp.%ld.Ab12Cd", dead);
  touch(dir, name);
  snprintf(name, sizeof name, "s.index.tmp.%ld.xY9zQ0", dead);
  touch(dir, name);
  snprintf(name, sizeof name, ".step_3.partial-%ld", dead);
  snprintf(sub, sizeof sub, "%s/%s", dir, name);
  CHECK(mkdir(sub, 0755) == 0);
  touch(sub, "model.safetensors");
  /* a killed run's kept previous version: named, kept */
  snprintf(name, sizeof name, "wiki_000.tfrecord.tmp.%ld.Qw3rTy.prev", dead);
  touch(dir, name);
  /* running processes' temporaries and ordinary files: kept */
  snprintf(name, sizeof name, "s.tfrecord.tmp.%ld.Zz9zZz", me);
  touch(dir, name);
  snprintf(name, sizeof name, ".model.partial-%ld", parent);
  snprintf(sub, sizeof sub, "%s/%s", dir, name);
  CHECK(mkdir(sub, 0755) == 0);
  const char *ordinary[] = {"s.tfrecord", "s.index", "notes.tmp.txt", "a.tmp.12.short", ".hidden", "x.tmp.abc.defghi"};
  for (size_t i = 0; i < sizeof ordinary / sizeof *ordinary; i++) touch(dir, ordinary[i]);

  char log_path[4200];
  snprintf(log_path, sizeof log_path, "%s.log", dir);
  FILE *log = fopen(log_path, "w+");
  CHECK(log != NULL);
  CHECK(bert_remove_stale_temporaries(dir, log) == 3);

  snprintf(name, sizeof name, "s.tfrecord.tmp.%ld.Ab12Cd", dead);
  CHECK(!exists(dir, name));
  snprintf(name, sizeof name, "s.index.tmp.%ld.xY9zQ0", dead);
  CHECK(!exists(dir, name));
  snprintf(name, sizeof name, ".step_3.partial-%ld", dead);
  CHECK(!exists(dir, name));
  snprintf(name, sizeof name, "wiki_000.tfrecord.tmp.%ld.Qw3rTy.prev", dead);
  CHECK(exists(dir, name));
  char said[1024] = {0};
  rewind(log);
  CHECK(fgets(said, sizeof said, log) != NULL);
  CHECK(strstr(said, name) != NULL && strstr(said, "previous version kept by an interrupted run") != NULL);
  fclose(log);
  remove(log_path);
  snprintf(name, sizeof name, "s.tfrecord.tmp.%ld.Zz9zZz", me);
  CHECK(exists(dir, name));
  snprintf(name, sizeof name, ".model.partial-%ld", parent);
  CHECK(exists(dir, name));
  for (size_t i = 0; i < sizeof ordinary / sizeof *ordinary; i++) CHECK(exists(dir, ordinary[i]));
  CHECK(bert_remove_stale_temporaries("/nonexistent/bertc", NULL) == 0);

  /* beside an output file: only the temporaries of that file and its kin (s.tfrecord: s.index) */
  const char *kin[] = {"s.tfrecord.tmp.%ld.Ab12Cd", "s.index.tmp.%ld.Ab12Cd"};
  const char *other[] = {"notes.tmp.%ld.report", ".other.partial-%ld"};
  for (int i = 0; i < 2; i++) {
    snprintf(name, sizeof name, kin[i], dead);
    touch(dir, name);
    snprintf(name, sizeof name, other[i], dead);
    snprintf(sub, sizeof sub, "%s/%s", dir, name);
    if (i == 0) touch(dir, name);
    else CHECK(mkdir(sub, 0755) == 0);
  }
  char output[4200];
  snprintf(output, sizeof output, "%s/s.tfrecord", dir);
  CHECK(bert_remove_stale_beside(output, NULL) == 2);
  for (int i = 0; i < 2; i++) {
    snprintf(name, sizeof name, kin[i], dead);
    CHECK(!exists(dir, name));
    snprintf(name, sizeof name, other[i], dead);
    CHECK(exists(dir, name));
  }
  CHECK(bert_remove_stale_temporaries(dir, NULL) == 2); /* the folder's: those too */

  /* an atomic write's temporary name carries the writer's process id, so a later run can tell */
  bert_atomic_file af;
  bert_error err = {0};
  char out[4200];
  snprintf(out, sizeof out, "%s/out.json", dir);
  CHECK(bert_atomic_open(&af, out, &err) == 0);
  snprintf(name, sizeof name, "out.json.tmp.%ld.", me);
  CHECK(strstr(af.tmp_path, name) != NULL);
  CHECK(bert_remove_stale_temporaries(dir, NULL) == 0); /* ours: still running */
  fputs("{}", af.f);
  CHECK(bert_atomic_commit(&af, &err) == 0);
  CHECK(exists(dir, "out.json"));

  char cmd[4200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);
  return test_summary("stale temporaries");
}
