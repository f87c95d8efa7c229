/* Pretraining records (data/packed, data/loader): the input is one tf.train.Example payload.
 *  - bert_unpacked_decode (what `bert data pack` reads), L = 128, M = 20 as data/sample_text.tfrecord:
 *    its hand-written wire decoder must agree with the general protobuf-c path — a record it
 *    accepts has the six features with the same values there;
 *  - the pretraining loader over a one-record file, unpacked (L 128, M 20) and packed (L 128,
 *    M' 22, S 3, as data/packing/sample_text_packed.tfrecord): opening reads and checks the record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/example.h"
#include "data/loader.h"
#include "data/packed.h"
#include "data/tfrecord.h"
#include "harness.h"

enum { L = 128, M = 20, PACKED_M = 22, PACKED_S = 3 };

static char dir[64], data_path[128], index_path[128];

static void remove_files(void) {
  unlink(data_path), unlink(index_path), rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  snprintf(dir, sizeof dir, "/tmp/bert-fuzz-XXXXXX");
  if (!mkdtemp(dir)) perror("mkdtemp"), abort();
  snprintf(data_path, sizeof data_path, "%s/x.tfrecord", dir);
  snprintf(index_path, sizeof index_path, "%s/x.index", dir);
  atexit(remove_files);
  return 0;
}

static void same_values(const bert_example *ex, const char *name, const int64_t *want, size_t n) {
  int64_t got[L];
  bert_error err;
  if (bert_example_get_int64(ex, name, got, n, &err))
    fprintf(stderr, "fast path accepted, general: %s\n", err.message), abort();
  if (memcmp(got, want, n * sizeof *got)) fprintf(stderr, "feature %s differs between the paths\n", name), abort();
}

static void unpacked(const uint8_t *data, size_t size) {
  bert_unpacked u;
  bert_error err;
  if (bert_unpacked_init(&u, L, M, &err)) abort();
  if (!fuzz_check(bert_unpacked_decode(&u, L, M, data, size, &err), &err)) {
    bert_example ex = {0};
    if (bert_example_decode(&ex, data, size, &err)) abort();
    same_values(&ex, "input_ids", u.ids, L);
    same_values(&ex, "input_mask", u.mask, L);
    same_values(&ex, "segment_ids", u.seg, L);
    same_values(&ex, "masked_lm_positions", u.mpos, M);
    same_values(&ex, "masked_lm_ids", u.mids, M);
    same_values(&ex, "next_sentence_labels", &u.nsp, 1);
    bert_example_free(&ex);
    bert_packed p;
    if (bert_packed_init(&p, L, M, PACKED_S, &err)) abort();
    bert_packed_add(&p, &u);
    bert_packed_add(&p, &u);
    bert_packed_free(&p);
  }
  bert_unpacked_free(&u);
}

static void write_record(const uint8_t *data, size_t size) {
  uint8_t *framed = malloc(size + BERT_TFRECORD_OVERHEAD);
  size_t n = bert_tfrecord_frame(data, size, framed);
  FILE *f = fopen(data_path, "wb"), *g = fopen(index_path, "wb");
  if (!f || !g || fwrite(framed, 1, n, f) != n || fprintf(g, "0 %zu\n", n) < 0) abort();
  fclose(f), fclose(g);
  free(framed);
}

static void load(int packed) {
  const char *files[1] = {data_path};
  bert_loader_config cfg = {0};
  cfg.input_files = files, cfg.input_file_count = 1;
  cfg.packed = packed, cfg.seq_len = L, cfg.masked = packed ? PACKED_M : M, cfg.slots = packed ? PACKED_S : 1;
  cfg.micro_batch = 1, cfg.global_batch = 1, cfg.world = 1, cfg.check_crc = 1;
  bert_loader *l;
  bert_error err;
  if (fuzz_check(bert_loader_open(&l, &cfg, &err), &err)) return;
  const bert_loader_batch *b;
  if (bert_loader_next(l, &b, &err)) fprintf(stderr, "opened but: %s\n", err.message), abort();
  bert_loader_close(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  unpacked(data, size);
  write_record(data, size);
  load(0);
  load(1);
  return 0;
}
