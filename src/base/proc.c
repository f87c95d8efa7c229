/* base/proc: shell commands with captured output (see proc.h). */
#include "base/proc.h"

#include "base/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static volatile sig_atomic_t child_group;
static volatile sig_atomic_t interrupted_by;

static void forward_signal(int sig) {
  interrupted_by = sig;
  if (child_group > 0) kill(-(pid_t)child_group, sig);
}

static size_t name_length(const char *entry) {
  const char *eq = strchr(entry, '=');
  return eq ? (size_t)(eq - entry) : strlen(entry);
}

/* Our environment with opt->env's entries added or replacing ones of the same name. */
static char **build_env(const bert_proc_options *opt) {
  size_t n = 0;
  while (environ && environ[n]) n++;
  int extra = opt ? opt->nenv : 0;
  char **env = calloc(n + (size_t)extra + 1, sizeof *env);
  if (!env) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    int replaced = 0;
    for (int j = 0; j < extra && !replaced; j++)
      replaced = name_length(environ[i]) == name_length(opt->env[j]) &&
                 !strncmp(environ[i], opt->env[j], name_length(opt->env[j]));
    if (!replaced) env[k++] = environ[i];
  }
  for (int j = 0; j < extra; j++) env[k++] = (char *)opt->env[j];
  return env;
}

/* The child: own process group, pipes as stdout/stderr, default signal handling, then sh. */
static void exec_child(const char *command, const bert_proc_options *opt, char **env, int out_fd, int err_fd) {
  setpgid(0, 0);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGPIPE, SIG_DFL);
  if (dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) _exit(127);
  if (opt && opt->cwd && chdir(opt->cwd) != 0) {
    static const char msg[] = "bert: cannot enter the benchmark's working directory\n";
    ssize_t unused = write(2, msg, sizeof msg - 1);
    (void)unused;
    _exit(127);
  }
  char *argv[] = {"sh", "-c", (char *)command, NULL};
  execve("/bin/sh", argv, env);
  _exit(127);
}

/* Reads what is available on fd into buf (and echo); returns 0 at end of file. */
static int drain(int fd, bert_strbuf *buf, FILE *echo) {
  char chunk[65536];
  ssize_t n = read(fd, chunk, sizeof chunk);
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return 0;
  bert_strbuf_append(buf, chunk, (size_t)n);
  if (echo) fwrite(chunk, 1, (size_t)n, echo), fflush(echo);
  return 1;
}

/* Collects output until both pipes close, enforcing the time limit on the group. */
static void collect(pid_t pid, int fds[2], const bert_proc_options *opt, bert_proc_result *res, double start) {
  double kill_at = 0;
  bert_strbuf *bufs[2] = {&res->out, &res->err};
  while (fds[0] >= 0 || fds[1] >= 0) {
    struct pollfd p[2] = {{.fd = fds[0], .events = POLLIN}, {.fd = fds[1], .events = POLLIN}};
    int ready = poll(p, 2, 200);
    for (int i = 0; i < 2 && ready > 0; i++)
      if (p[i].revents && !drain(fds[i], bufs[i], opt ? opt->echo : NULL)) close(fds[i]), fds[i] = -1;
    double t = bert_seconds();
    if (opt && opt->timeout > 0 && !res->timed_out && t - start > opt->timeout) {
      res->timed_out = 1, kill_at = t + 5;
      kill(-pid, SIGTERM);
    }
    if (kill_at > 0 && t > kill_at) kill(-pid, SIGKILL), kill_at = 0;
  }
}

static void wait_child(pid_t pid, bert_proc_result *res) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) res->signal = WTERMSIG(status), res->exit_code = 128 + res->signal;
  else res->exit_code = WEXITSTATUS(status);
}

int bert_proc_run(const char *command, const bert_proc_options *opt, bert_proc_result *res, bert_error *err) {
  memset(res, 0, sizeof *res);
  int po[2], pe[2];
  if (pipe2(po, O_CLOEXEC)) return bert_error_set(err, BERT_EIO, "cannot create a pipe: %s", strerror(errno));
  if (pipe2(pe, O_CLOEXEC)) {
    close(po[0]), close(po[1]);
    return bert_error_set(err, BERT_EIO, "cannot create a pipe: %s", strerror(errno));
  }
  char **env = build_env(opt);
  fflush(NULL); /* nothing buffered may be written twice by the child */
  pid_t pid = env ? fork() : -1;
  if (pid == 0) exec_child(command, opt, env, po[1], pe[1]);
  int fork_errno = errno;
  close(po[1]), close(pe[1]);
  if (pid < 0) {
    close(po[0]), close(pe[0]), free(env);
    return bert_error_set(err, BERT_EIO, "cannot start /bin/sh: %s", env ? strerror(fork_errno) : "out of memory");
  }
  setpgid(pid, pid); /* also here, so the group exists before any signal is forwarded */
  struct sigaction forward = {.sa_handler = forward_signal}, old_int, old_term;
  sigemptyset(&forward.sa_mask);
  interrupted_by = 0;
  child_group = pid;
  sigaction(SIGINT, &forward, &old_int);
  sigaction(SIGTERM, &forward, &old_term);
  double start = bert_seconds();
  int fds[2] = {po[0], pe[0]};
  collect(pid, fds, opt, res, start);
  wait_child(pid, res);
  res->seconds = bert_seconds() - start;
  child_group = 0;
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  res->interrupted = interrupted_by != 0;
  free(env);
  if (res->out.failed || res->err.failed)
    return bert_error_set(err, BERT_ENOMEM, "out of memory keeping the command's output");
  return BERT_OK;
}

void bert_proc_result_free(bert_proc_result *res) {
  bert_strbuf_free(&res->out);
  bert_strbuf_free(&res->err);
}
