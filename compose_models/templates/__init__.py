"""Team stack templates: stacks that run as they are, written out by ``compose-models init``.

Each template is a folder here: ``template.yaml`` (its one-line description), ``compose.yaml`` whose
top-level ``models:`` keys are the template's model slots, a README and the applications' sources.
"""
