"""The .tflite flatbuffer: schema tables, a bounds-checked zero-copy reader, and a writer."""
