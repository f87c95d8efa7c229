/* data/packing_greedy: shortest-pack-first (SPFHP) and longest-pack-first (LPFHP) histogram
 * packing, as published with the Packed BERT paper (arXiv 2107.02027; Graphcore's blogs_code
 * spfhp.py / lpfhp.py). Both walk the histogram from the longest length down and keep, for each
 * amount of room left, a stack of (count, pack) groups: a group of identical packs is split when
 * only part of it receives the current length. Packs that are full (no room or S sequences) are
 * final. The work is O(L^2 + groups), independent of the number of sequences. */
#include <stdlib.h>
#include <string.h>

#include "data/packing.h"

#define NO_PACK UINT32_MAX

typedef struct gpack {
  uint8_t n;
  uint16_t len[BERT_PACK_MAX_SEQUENCES];
} gpack;

typedef struct gentry {
  int64_t count;
  uint32_t pack;
} gentry;

typedef struct gstack {
  gentry *items;
  size_t n, cap;
} gstack;

typedef struct greedy {
  int L, S;
  gpack *packs;
  size_t npacks, cap;
  gstack *tmp;   /* [L + 1]: open groups by room left */
  gstack *final; /* [L + 1]: closed groups by room left */
  int rc;
  bert_error *err;
} greedy;

static void push(greedy *g, gstack *s, int64_t count, uint32_t pack) {
  if (g->rc || count <= 0) return;
  if (s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 8;
    gentry *items = realloc(s->items, cap * sizeof *items);
    if (!items) {
      g->rc = bert_error_set(g->err, BERT_ENOMEM, "packing: out of memory");
      return;
    }
    s->items = items, s->cap = cap;
  }
  s->items[s->n++] = (gentry){count, pack};
}

/* A new pack: `base` (or nothing) plus `repeat` sequences of length len. */
static uint32_t extend(greedy *g, uint32_t base, int len, int repeat) {
  if (g->rc) return NO_PACK;
  if (g->npacks == g->cap) {
    size_t cap = g->cap ? 2 * g->cap : 256;
    gpack *packs = cap < NO_PACK ? realloc(g->packs, cap * sizeof *packs) : NULL;
    if (!packs) {
      g->rc = bert_error_set(g->err, BERT_ENOMEM, "packing: out of memory for %zu packs", cap);
      return NO_PACK;
    }
    g->packs = packs, g->cap = cap;
  }
  gpack p = base == NO_PACK ? (gpack){0} : g->packs[base];
  for (int r = 0; r < repeat; r++) p.len[p.n++] = (uint16_t)len;
  g->packs[g->npacks] = p;
  return (uint32_t)g->npacks++;
}

/* A group is final when the pack is full (no room left or S sequences), else it stays open. */
static void add_group(greedy *g, uint32_t pack, int64_t count, int room) {
  if (g->rc) return;
  gstack *s = g->packs[pack].n == g->S || room == 0 ? &g->final[room] : &g->tmp[room];
  push(g, s, count, pack);
}

static void spfhp_length(greedy *g, int i, int64_t n) {
  int len = g->L - i, offset = i + 1; /* start with the pack with the most room */
  while (n > 0 && !g->rc) {
    int key = len + offset;
    if (key <= g->L && g->tmp[key].n) {
      gentry e = g->tmp[key].items[--g->tmp[key].n];
      uint32_t np = extend(g, e.pack, len, 1);
      int64_t count = e.count < n ? e.count : n;
      if (e.count > n) push(g, &g->tmp[key], e.count - n, e.pack), n = 0;
      else n -= e.count;
      add_group(g, np, count, offset);
    } else {
      offset--;
    }
    if (offset < 0) { /* fits nowhere: new packs */
      add_group(g, extend(g, NO_PACK, len, 1), n, i);
      n = 0;
    }
  }
}

static void lpfhp_length(greedy *g, int i, int64_t n) {
  int len = g->L - i, offset = 0; /* start with the pack it fills best */
  while (n > 0 && !g->rc) {
    int key = len + offset;
    if (key <= g->L && g->tmp[key].n) {
      gentry e = g->tmp[key].items[--g->tmp[key].n];
      int repeat = 1 + offset / len, free_slots = g->S - g->packs[e.pack].n;
      if (repeat > free_slots) repeat = free_slots;
      while (n / repeat == 0) repeat--;
      uint32_t np = extend(g, e.pack, len, repeat);
      int64_t count = e.count < n / repeat ? e.count : n / repeat;
      if (e.count > count) push(g, &g->tmp[key], e.count - count, e.pack), n -= count * repeat;
      else n -= e.count * repeat;
      add_group(g, np, count, offset - (repeat - 1) * len);
      offset = 0;
    } else {
      offset++;
    }
    if (offset >= g->L - len + 1) { /* fits nowhere: new packs, as many copies as fit */
      int repeat = g->L / len < g->S ? g->L / len : g->S;
      while (n / repeat == 0) repeat--;
      add_group(g, extend(g, NO_PACK, len, repeat), n / repeat, g->L - len * repeat);
      n -= n / repeat * repeat;
    }
  }
}

static void flush(greedy *g, gstack *s, bert_pack_plan *plan) {
  for (size_t i = 0; i < s->n && !g->rc; i++) {
    const gpack *p = &g->packs[s->items[i].pack];
    g->rc = bert_pack_plan_add(plan, p->len, p->n, s->items[i].count, g->err);
  }
}

static int run(const int64_t *h, bert_pack_plan *plan, int longest_first, bert_error *err) {
  greedy g = {.L = plan->sequence_length, .S = plan->max_sequences_per_pack, .err = err};
  if (g.L < 1 || g.S < 1 || g.S > BERT_PACK_MAX_SEQUENCES)
    return bert_error_set(err, BERT_EINVAL, "packing: bad sequence length %d or sequences per pack %d", g.L, g.S);
  g.tmp = calloc((size_t)g.L + 1, sizeof *g.tmp);
  g.final = calloc((size_t)g.L + 1, sizeof *g.final);
  if (!g.tmp || !g.final) g.rc = bert_error_set(err, BERT_ENOMEM, "packing: out of memory");
  for (int i = 0; i < g.L && !g.rc; i++) {
    int64_t n = h[g.L - 1 - i];
    if (longest_first) lpfhp_length(&g, i, n);
    else spfhp_length(&g, i, n);
  }
  for (int room = 0; room <= g.L && !g.rc; room++) flush(&g, &g.final[room], plan);
  for (int room = 0; room <= g.L && !g.rc; room++) flush(&g, &g.tmp[room], plan);
  for (int room = 0; room <= g.L; room++) {
    if (g.tmp) free(g.tmp[room].items);
    if (g.final) free(g.final[room].items);
  }
  free(g.tmp), free(g.final), free(g.packs);
  return g.rc;
}

int bert_pack_spfhp(const int64_t *histogram, bert_pack_plan *plan, bert_error *err) {
  return run(histogram, plan, 0, err);
}

int bert_pack_lpfhp(const int64_t *histogram, bert_pack_plan *plan, bert_error *err) {
  return run(histogram, plan, 1, err);
}
