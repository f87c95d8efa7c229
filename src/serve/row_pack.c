#include "serve/row_pack.h"

int bert_serve_pack_rows(const int *len, int n, int capacity, int *scratch, int *bin, int *offset, int *max_fill) {
  /* longest first (insertion sort: a batch holds at most max_batch_size rows); ties keep
   * request order, so the packing of a batch does not depend on anything but its lengths */
  int *order = scratch, *fill = scratch + n;
  for (int i = 0; i < n; i++) {
    int j = i;
    while (j > 0 && len[order[j - 1]] < len[i]) order[j] = order[j - 1], j--;
    order[j] = i;
  }
  int bins = 0;
  for (int k = 0; k < n; k++) {
    int r = order[k], b = 0;
    while (b < bins && fill[b] + len[r] > capacity) b++;
    if (b == bins) fill[bins++] = 0;
    bin[r] = b, offset[r] = fill[b];
    fill[b] += len[r];
  }
  *max_fill = 0;
  for (int b = 0; b < bins; b++)
    if (fill[b] > *max_fill) *max_fill = fill[b];
  return bins;
}
