"""The matcher of the first build (hand-made lexicon, stemmer and synonym tables), kept only so
that `pplbot bench` can measure it next to the current matcher in the same run. Nothing else
imports it."""
