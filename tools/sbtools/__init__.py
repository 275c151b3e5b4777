"""Shared Python helpers of srambench's tools: .sbm files (sbm), quantisation (quant,
exporter, graph, torchq), models and data (models, data: tools/train)."""
