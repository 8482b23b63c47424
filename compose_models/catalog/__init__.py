"""The team model catalog: a policy (``catalog.yaml``) and the verbs that hold published models to it.

``lint`` checks an artifact against the policy, ``publish`` packages, names, lints and pushes one,
``validate`` proves a published tag pulls into a clean store and answers a prompt, and ``list``
shows what the catalog holds. See docs/catalog.md.
"""
