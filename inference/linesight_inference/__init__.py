"""LineSight inference: ONNX models served with ONNX Runtime, micro-batching, hot reload."""

__version__ = "0.1.0"
