"""Tasks: what a model's pairs are (translation, chatbot, ...) and how the toolkit words itself for each.

One encoder-decoder serves many jobs; only the words around it change. The task is decided in ONE
place, the data: ``seq2seq prepare --task chatbot`` records it in the data directory's manifest,
training copies it into every checkpoint's metadata (key ``task``), and `translate`, `chat`,
`evaluate`, `serve` and the web page read it from the checkpoint. A manifest or checkpoint that
records none is a translation (everything written before tasks existed). The config has no task of
its own: the same pairs cannot be a translation in one run and a chatbot in the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from seq2seq.errors import ConfigError

TaskName = Literal["translation", "chatbot", "summarisation", "pronunciation", "speech"]
DEFAULT_TASK: TaskName = "translation"


@dataclass(frozen=True)
class Task:
    """How the commands and the web page speak of one kind of pairs."""

    name: TaskName
    source_label: str  # what a source is: "Question"
    target_label: str  # what an output is: "Answer"
    verb: str  # what the model does to a source: "answer" (buttons, messages)
    prompt: str  # `seq2seq chat`'s prompt: "question> "
    metrics: tuple[str, ...]  # `evaluate`'s default metrics: names of evaluate/metrics.py's METRICS
    libretranslate: bool  # whether the server also speaks LibreTranslate's API (/translate)
    summary: str  # one line for help texts

    @property
    def labels(self) -> str:
        """'Question → Answer'."""
        return f"{self.source_label} \u2192 {self.target_label}"

    @property
    def output_noun(self) -> str:
        """'answer': an output, in running text ('the best answers')."""
        return self.target_label.lower()


# Speech is judged by BLEU/chrF until its issue adds word error rates to evaluate/metrics.py; their
# names then go here. Summarisation by ROUGE-1/2/L F1 (rouge-score) and the mean output length.
TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task("translation", "Text", "Translation", "translate", "> ", ("bleu", "chrf"), True,
             "text in one language -> the same text in another"),
        Task("chatbot", "Question", "Answer", "answer", "question> ",
             ("bleu", "chrf", "distinct-1", "distinct-2", "length"), False,
             "a question or remark -> a reply"),
        Task("summarisation", "E-mail", "Subject", "summarise", "text> ",
             ("rouge1", "rouge2", "rougeL", "length"), False,
             "a long text -> a short one that sums it up"),
        Task("pronunciation", "Word", "Pronunciation", "pronounce", "word> ",
             ("wer", "per", "wer-no-stress", "per-no-stress"), False, "a written word -> its sounds"),
        Task("speech", "Audio", "Transcript", "transcribe", "audio> ", ("speech-wer", "cer"), False,
             "speech -> its transcript"),
    )
}  # fmt: skip


def get_task(name: str | None, where: str = "") -> Task:
    """The task called `name` (None: translation); an unknown name is a ConfigError that names
    `where` it was found and the tasks there are."""
    if name is None:
        return TASKS[DEFAULT_TASK]
    if name not in TASKS:
        place = f" in {where}" if where else ""
        raise ConfigError(f"unknown task '{name}'{place}; tasks: {', '.join(TASKS)}")
    return TASKS[name]
