"""The dialogue model: loading a local Hugging Face directory, batched decoding, in-process serving."""
