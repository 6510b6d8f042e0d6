"""Running the models: onnxruntime sessions and the torch path, with the ONNX graph repairs they share."""
