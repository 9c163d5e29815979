"""Dataset distillation: the soft-label baseline (Qin et al. 2024) and D3 (distributional distillation
with subtask decomposition). See docs/distill.md.

- :mod:`.data`: digits and the synthetic nested-class set, images (N, 1, 8, 8);
- :mod:`.nets`: the expert / student ConvNet, training on target distributions, per-epoch checkpoints;
- :mod:`.labels`: soft labels, the swap test, top-k truncation, label storage;
- :mod:`.softlabel`: random real images + soft labels, one sweep cell per study;
- :mod:`.d3`: latents, decoder, MMD, distillation, re-aggregation, storage accounting;
- :mod:`.budget`: the equal-storage comparison (D3, pixel prototypes, random real) and its cells.
"""
