"""BLEU as the Multi30k literature counts it: Moses-normalised, -tokenised, lower-cased hypotheses
against the official tokenised references, checked against sacreBLEU's own command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from seq2seq.commands import main
from seq2seq.evaluate.scores import moses_tokenizer, tokenized_bleu

# The official references' form (multi30k/tok/*.lc.norm.tok.fr): lower case, split punctuation
# and elisions, Moses' XML escapes.
GOLDEN_FR = [
    ("L'homme, qui court.", "l&apos; homme , qui court ."),
    ("Un chien « joue » dans l'herbe !", "un chien &quot; joue &quot; dans l&apos; herbe !"),
    ("Deux  femmes   parlent", "deux femmes parlent"),
]


@pytest.mark.parametrize(("raw", "tokenized"), GOLDEN_FR)
def test_hypotheses_take_the_official_references_form(raw, tokenized):
    assert moses_tokenizer("fr")(raw) == tokenized


def test_the_score_equals_sacrebleu_tokenize_none_lowercase_on_the_same_files(tmp_path):
    hyps = ["Un homme court dans l'herbe.", "Deux chiens jouent, ensemble !", "Une femme lit."]
    refs = ["un homme court sur l&apos; herbe .", "deux chiens jouent ensemble !",
            "une femme lit un livre ."]  # fmt: skip
    tokenize = moses_tokenizer("fr")
    (tmp_path / "hyp.tok").write_text("".join(tokenize(h) + "\n" for h in hyps), "utf-8")
    (tmp_path / "ref.tok").write_text("".join(r + "\n" for r in refs), "utf-8")
    cli = subprocess.run(
        [sys.executable, "-m", "sacrebleu", str(tmp_path / "ref.tok"), "-i",
         str(tmp_path / "hyp.tok"), "--tokenize", "none", "--lowercase", "-b", "-w", "4", "--force"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    ours = tokenized_bleu(hyps, refs, "fr")
    assert ours.bleu == pytest.approx(float(cli.stdout.strip()), abs=1e-4)
    assert "tok:none" in ours.signature and "case:lc" in ours.signature
    assert "moses" in ours.signature and "fr" in ours.signature
    # Scored on 13a-tokenised detokenised text the number differs: the mode is not a no-op.
    import sacrebleu

    plain = sacrebleu.corpus_bleu(hyps, [refs], lowercase=True).score
    assert abs(plain - ours.bleu) > 1.0


def test_evaluate_reports_it_beside_cased_sacrebleu(tmp_path, capsys):
    refs = ["Un homme court sur l'herbe.", "Deux chiens jouent ensemble !"]
    hyps = ["Un homme court dans l'herbe.", "Deux chiens jouent ensemble !"]
    tokenize = moses_tokenizer("fr")
    for name, lines in (("src.en", ["a", "b"]), ("ref.fr", refs), ("hyp.fr", hyps),
                        ("ref.lc.norm.tok.fr", [tokenize(r) for r in refs])):  # fmt: skip
        (tmp_path / name).write_text("\n".join(lines) + "\n", "utf-8")
    code = main(["evaluate", "--src", str(tmp_path / "src.en"), "--ref", str(tmp_path / "ref.fr"),
                 "--hyp", str(tmp_path / "hyp.fr"), "--tok-ref",
                 str(tmp_path / "ref.lc.norm.tok.fr")])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "BLEU" in out.splitlines()[0] and "tokenised, lower-cased" in out
    assert "hyp:moses-norm+tok-fr" in out
