"""Answers: query plan, typed extractors, evidence features, a calibrated evidence model, the answer."""
