"""The generative model and its training: the PVRNN, the per-behaviour charts, the conformality regularizer,
the model file, and the NumPy copy of the generator that inference runs on.
"""
