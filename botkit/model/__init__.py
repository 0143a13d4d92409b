"""The dialogue model: loading a local Hugging Face directory, batched generation, the in-process generator."""
