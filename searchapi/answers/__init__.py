"""Answering as a pipeline of small typed pieces: a query plan parsed once, typed extractors,
general evidence features, a fitted and calibrated evidence model, and the answer built from it."""
