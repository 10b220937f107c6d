"""The study runner: many seeds, cases, ablations, datasets and inference methods, on Ray.

``spec`` reads and checks a study's YAML file; ``plan`` expands it into runs with stable identities;
``datasets`` generates each dataset variant once into a cache; ``run`` is one training + evaluation;
``references`` the baseline predictors per dataset; ``metrics`` the per-run metric hooks; ``runner``
schedules everything on Ray and stores results atomically; ``stats``, ``aggregate``, ``plots`` and
``report`` turn the finished runs into tables and pictures. ``latent-nodes study`` is the command.
"""
