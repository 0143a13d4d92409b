"""The weight-compression stage (``botkit train vae``) and its baselines.

* ``calibration.py``: ``X^T X`` of each layer's inputs on calibration dialogues;
* ``vq.py``: the learned codec (residual vector quantisation with shared codebooks);
* ``finetune.py``: end-to-end tuning of a coded model's continuous parameters, codes fixed;
* ``scalar.py``: round-to-nearest and GPTQ;
* ``checkpoint.py``: the stored form, its manifest and the bit accounting;
* ``stage.py``: the stage itself.

The serving side, which decodes a checkpoint into a model, is ``botkit.model.compressed``.
"""
