"""The adversarial stage: a discriminator of human vs generated replies, and a generator trained against it.

``batch.py`` turns dialogues into (context, reply) token batches, ``discriminator.py`` is the classifier,
``policy.py`` the three updates (discriminator, policy gradient with KL, teacher forcing), ``lstm.py`` the
LSTM generator and oracle of the SeqGAN experiment, ``trainer.py`` the loop with its divergence checks
and exact resume, and ``stage.py`` the ``botkit train gan`` stage around it.
"""
