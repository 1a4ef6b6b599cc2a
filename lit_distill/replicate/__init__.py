"""``python -m lit_distill replicate``: the whole chain on real SQuAD, stage by stage, resumably.

Each stage is an ordinary ``python -m lit_distill`` command whose configuration is kept in the
run directory. :mod:`~lit_distill.replicate.driver` runs a chain (the command line is
:mod:`lit_distill.commands.replicate`); :mod:`~lit_distill.replicate.settings` the profiles and
checked run settings; :mod:`~lit_distill.replicate.inputs` the input checks and the by-article
split; :mod:`~lit_distill.replicate.stages` each stage's configuration;
:mod:`~lit_distill.replicate.stage_runs` running a stage's command, and the speed and INT8
stages; :mod:`~lit_distill.replicate.results` the results and tables;
:mod:`~lit_distill.replicate.chains` the deploy, pruning and heads chains;
:mod:`~lit_distill.replicate.deploy` and :mod:`~lit_distill.replicate.front` the deployment
chain's search, exports and front. Importing this package imports no stage module.
"""
