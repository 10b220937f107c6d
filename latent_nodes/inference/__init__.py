"""From observations to a completed behaviour: the search for xi (``search``), its warm start, the
completer the nodes call, the online estimator, behaviour recognition and the model's domain.
"""
