"""Carrying a merged model to where people run it: GGUF files made by llama.cpp's own converter
and quantizer, an Ollama Modelfile from the chat template, and answers from llama.cpp that prove
the export speaks like the model it came from."""
