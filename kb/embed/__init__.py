"""Embeddings and similar-incident search.

document.py  incident → the text that is embedded (and the hook for later features' texts)
encoder.py   text → unit vectors: the packaged MiniLM via ONNX int8 (default) or torch, and a
             deterministic fake for tests
onnx_export.py  the by-hand ONNX export + int8 quantization, cached under $KB_HOME/models/
index.py     vector index interface (numpy matrix), FTS5 query building, reciprocal rank fusion
search.py    `kb search` / `kb similar`: rankings, filters, explanations, honest notes
stage.py     `kb embed` and the `embed` stage of `kb update` (content-hash keyed)

Importing this package imports nothing heavy; numpy, onnxruntime and torch load inside the
functions that need them.
"""
