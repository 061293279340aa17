"""Meeting preparation: precedent across papers, saved searches, example questions."""
