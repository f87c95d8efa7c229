/* io/torch_pickle: reads a PyTorch state dict saved by torch.save (>= 1.6: a zip holding
 * <archive>/data.pkl and raw storages <archive>/data/<key>) without Python. data.pkl goes through
 * a small strict unpickler that builds values only: the one callable subset torch.save emits for
 * a state dict (collections.OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_parameter,
 * torch.<Type>Storage persistent ids) is interpreted, and any other global is rejected — nothing
 * is ever executed. Tensors come out as bert_st_tensor (the safetensors view type): contiguous
 * ones point into the mapped file, strided views or ones with a storage offset are copied out. */
#ifndef BERT_IO_TORCH_PICKLE_H
#define BERT_IO_TORCH_PICKLE_H

#include <stddef.h>

#include "base/error.h"
#include "io/safetensors.h"

typedef struct bert_torch_file {
  char path[4096];
  const unsigned char *buf;   /* the whole file, mapped read-only */
  size_t size;
  bert_st_tensor *tensors;    /* in the state dict's order */
  int count;
  void **copies;              /* owned buffers of the copied-out (non-contiguous) tensors */
  int copy_count;
} bert_torch_file;

/* Opens a torch.save'd state dict. A legacy (pre-1.6, non-zip) file, a compressed entry or a
 * big-endian archive give BERT_EUNSUPPORTED; a damaged file BERT_EFORMAT; both name the file. */
int bert_torch_open(bert_torch_file *tf, const char *path, bert_error *err);
void bert_torch_close(bert_torch_file *tf);
const bert_st_tensor *bert_torch_find(const bert_torch_file *tf, const char *name);

#endif
