"""natv2.runtime: ONNX files and onnxruntime, shared by export, latency measurement and prediction.

* `onnx_file`: write a module to ONNX (dynamic batch, natv2 metadata inside), open a session.
* `int8`: static INT8 quantization (QDQ) with onnxruntime's own tooling, and which operators it
  leaves in float.

Nothing here knows about runs, datasets or search: callers pass modules, files and arrays.
"""
