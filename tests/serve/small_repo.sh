# Sourced by the serving script tests and bench/soak.py (not a test itself):
# `small_repo DIR VOCAB [MAX_BATCH [QUEUE_DELAY_US]]` writes DIR/small, a BERT question-answering
# model of 128 tokens, 2 layers, 64 wide, random weights, with dynamic batching of up to MAX_BATCH
# rows (4) waiting up to QUEUE_DELAY_US for a batch (0), as `bert serve` reads it.
small_repo() {
  mkdir -p "$1/small/1"
  cat >"$1/small/config.pbtxt" <<PBTXT
name: "small"
backend: "bertc"
max_batch_size: ${3:-4}
dynamic_batching { max_queue_delay_microseconds: ${4:-0} }
input [
  { name: "input_ids" data_type: TYPE_INT32 dims: [ 128 ] },
  { name: "attention_mask" data_type: TYPE_INT32 dims: [ 128 ] },
  { name: "token_type_ids" data_type: TYPE_INT32 dims: [ 128 ] }
]
output [
  { name: "start_logits" data_type: TYPE_FP32 dims: [ 128 ] },
  { name: "end_logits" data_type: TYPE_FP32 dims: [ 128 ] }
]
PBTXT
  echo "{\"hidden_size\": 64, \"num_hidden_layers\": 2, \"num_attention_heads\": 2, \"intermediate_size\": 128,
 \"vocab_size\": $2, \"max_position_embeddings\": 128, \"type_vocab_size\": 2}" >"$1/small/1/config.json"
}
