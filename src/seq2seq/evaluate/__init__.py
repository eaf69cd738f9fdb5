"""Evaluation stage: scores, the paper's analyses, plots and reports (docs/evaluation.md).

scores.py     sacreBLEU BLEU / chrF with signatures, Multi30k's tokenised BLEU
evaluate.py   `seq2seq evaluate`
analyses.py   BLEU by length and by word rarity (Fig. 3), PCA (Fig. 2), beam sweep (§3.6)
probes.py     sentence vectors and attention maps of a checkpoint
plots.py      matplotlib (Agg) figures
analyze.py    `seq2seq analyze <length|rarity|pca|attention|beams>`
report.py     `seq2seq report`: one self-contained HTML page
"""
