"""The text side of text-to-image person retrieval: a tokenizer and a from-scratch transformer encoder."""
