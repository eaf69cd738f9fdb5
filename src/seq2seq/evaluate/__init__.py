"""Evaluation stage: scores, the paper's analyses, plots and reports (docs/evaluation.md).

scores.py     sacreBLEU BLEU / chrF with signatures, Multi30k's tokenised BLEU
metrics.py    metrics by name, chosen per task
evaluate.py   translate a test set and score it (`seq2seq evaluate`)
analyses.py   BLEU by length and by word rarity (Fig. 3), PCA (Fig. 2), beam sweep (§3.6)
probes.py     sentence vectors and attention maps of a checkpoint
plots.py      matplotlib (Agg) figures
report.py     one self-contained HTML page (`seq2seq report`)
retrieval.py  the chatbot's retrieval baseline
"""
