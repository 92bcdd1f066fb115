"""`jose-train`: train JoSE on a corpus file of any size.

The input is the JoSE program's: one document per line, tokens separated by
whitespace, plain or compressed (.gz, .bz2, .xz). Every line is a document.
The outputs are the JoSE program's word2vec text files (documents keyed by
their 0-based line number), or binary ones, or a saved model.

The corpus is streamed twice -- once to count words, once to encode it to a
scratch directory -- and training reads the encoded corpus back in blocks, so
memory grows with the vocabulary and the number of documents, not with the
corpus's length. The JoSE program's single-dash options (-train, -size, -iter,
...) are accepted too, so existing scripts run by changing the program name.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

PROG = "jose-train"


class UsageError(Exception):
    """A problem with what the user asked for, reported in one line."""


def build_parser() -> argparse.ArgumentParser:
    from .model import DEFAULT_OBJECTIVE, DEFAULT_UPDATE_RULE, OBJECTIVES, UPDATE_RULES

    p = argparse.ArgumentParser(
        prog=PROG, allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train JoSE spherical word and document embeddings on a text file "
                    "(one document per line).",
        epilog="Every option also has the JoSE program's single-dash spelling where it "
               "had one (-train, -size, -window, -negative, -margin, -alpha, -sample, "
               "-min-count, -iter, -threads, -word-output, -context-output, -doc-output, "
               "-save-vocab, -read-vocab, -load-emb, -binary, -debug).\n\n"
               "example: jose-train corpus.txt.gz --size 100 --window 10 --epochs 20 "
               "--word-output words.txt --doc-output docs.txt")
    add = p.add_argument
    add("corpus", nargs="?", help="training text: one document per line (.gz/.bz2/.xz ok)")
    add("--train", "-train", dest="train", metavar="FILE", help="the corpus (as in jose.c)")
    g = p.add_argument_group("model")
    g.add_argument("--size", "-size", type=int, default=100, metavar="N",
                   help="dimension of the vectors (default 100)")
    g.add_argument("--window", "-window", type=int, default=5, metavar="N",
                   help="largest distance between a word and its context (default 5)")
    g.add_argument("--negative", "-negative", type=int, default=2, metavar="N",
                   help="negative words per positive pair (default 2)")
    g.add_argument("--margin", "-margin", type=float, default=0.15, metavar="M",
                   help="hinge margin, in (0, 2] (default 0.15)")
    g.add_argument("--alpha", "-alpha", type=float, default=0.04, metavar="A",
                   help="starting learning rate, decayed linearly to alpha*1e-4 (default 0.04)")
    g.add_argument("--sample", "-sample", type=float, default=1e-3, metavar="S",
                   help="subsampling threshold for frequent words, 0 = off (default 1e-3)")
    g.add_argument("--min-count", "-min-count", type=int, default=5, metavar="N",
                   help="drop words seen fewer times (default 5)")
    g.add_argument("--epochs", "--iter", "-iter", dest="epochs", type=int, default=10,
                   metavar="N", help="passes over the corpus (default 10)")
    g.add_argument("--threads", "-threads", type=int, default=None, metavar="N",
                   help="worker threads (default: the machine's cores)")
    g.add_argument("--seed", "-seed", type=int, default=1, metavar="N",
                   help="random seed; with --threads 1 runs repeat exactly (default 1)")
    g.add_argument("--update-rule", "-update-rule", choices=UPDATE_RULES,
                   default=DEFAULT_UPDATE_RULE,
                   help=f"Riemannian step: 'paper' (Meng et al. 2019) or 'reference' "
                        f"(the JoSE program's) (default {DEFAULT_UPDATE_RULE})")
    g.add_argument("--objective", "-objective", choices=OBJECTIVES, default=DEFAULT_OBJECTIVE,
                   help="'separate': the word-context and word-document hinges one after "
                        "the other (the JoSE program); 'joint': the paper's one hinge over "
                        f"word, context, document and negative (default {DEFAULT_OBJECTIVE})")
    g.add_argument("--no-shuffle", dest="shuffle", action="store_false",
                   help="train documents in file order every epoch, as jose.c does "
                        "(default: a new random order each epoch)")
    g = p.add_argument_group(
        "input and output",
        "With no output option, jose-train writes <stem>.words.txt and <stem>.docs.txt "
        "(.bin with --binary) in the current directory, <stem> being the corpus file's "
        "name up to its first dot.")
    g.add_argument("--word-output", "-word-output", metavar="FILE",
                   help="word (center) vectors, word2vec format")
    g.add_argument("--context-output", "-context-output", metavar="FILE",
                   help="context vectors, word2vec format")
    g.add_argument("--doc-output", "-doc-output", metavar="FILE",
                   help="document vectors keyed by 0-based line number, word2vec format")
    g.add_argument("--model-output", metavar="DIR",
                   help="the whole model (jose.JoSE.load reads it)")
    g.add_argument("--binary", action="store_const", const=1, default=0,
                   help="write binary word2vec files (default: text)")
    g.add_argument("-binary", dest="binary", type=int, choices=(0, 1), metavar="0|1",
                   help="jose.c / word2vec spelling of --binary")
    g.add_argument("--save-vocab", "-save-vocab", metavar="FILE",
                   help="write the vocabulary, one 'word count' per line")
    g.add_argument("--read-vocab", "-read-vocab", metavar="FILE",
                   help="take the vocabulary and counts from FILE instead of counting")
    g.add_argument("--load-emb", "-load-emb", metavar="PATH",
                   help="start from pretrained vectors: a word2vec file, or a prefix P "
                        "with P_w.txt (words) and optionally P_v.txt (contexts), as "
                        "jose.c reads; vectors are normalised onto the sphere")
    g.add_argument("--tokenize", action="store_true",
                   help="lower-case and split on non-alphanumerics first (default: "
                        "split on whitespace only, exactly as jose.c)")
    g.add_argument("--cache", metavar="DIR",
                   help="directory for the encoded corpus (default: a temporary one, "
                        "removed at the end)")
    g.add_argument("--quiet", action="store_true", help="no progress bars")
    g.add_argument("--debug", "-debug", type=int, default=2, metavar="N",
                   help="jose.c's verbosity: 0 is --quiet (default 2)")
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return run(args)
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted; no output was written in place of an old one",
              file=sys.stderr)
        return 130


def run(args) -> int:
    from .model import JoSE

    corpus = corpus_path(args)
    quiet = args.quiet or args.debug <= 0
    outputs = output_paths(args, corpus)
    check_writable(outputs, args.save_vocab)
    embeddings = embedding_paths(args.load_emb) if args.load_emb else None
    # build the model first: bad parameters fail before any reading
    try:
        model = JoSE(vector_size=args.size, window=args.window, negative=args.negative,
                     margin=args.margin, alpha=args.alpha, sample=args.sample,
                     min_count=args.min_count, epochs=args.epochs, workers=args.threads,
                     seed=args.seed, update_rule=args.update_rule, shuffle=args.shuffle,
                     objective=args.objective)
    except ValueError as e:
        raise UsageError(option_names(str(e))) from None
    log = (lambda *a: None) if quiet else (lambda *a: print(*a, file=sys.stderr))
    started = time.perf_counter()
    with scratch_dir(args.cache) as scratch:
        vocab = read_vocabulary(args, corpus, quiet, log)
        data = encode(corpus, vocab, scratch, args.tokenize, quiet)
        model.build_vocab_from_counts(vocab.words, vocab.counts, range(data.n_docs))
        if args.save_vocab:
            write_vocab(args.save_vocab, model.vocab)
        if embeddings:
            found = model.load_pretrained(*embeddings)
            log(f"loaded pretrained vectors for {found:,} of {len(model.vocab):,} words "
                f"from {embeddings[0]}")
        log(f"{data.n_docs:,} documents, {len(model.vocab):,} words in the vocabulary, "
            f"{data.n_tokens:,} corpus words; training {model!r} on "
            f"{model.workers} thread(s)")
        train_start = time.perf_counter()
        model.train(encoded=data, progress=False if quiet else progress_bar(model, data))
        train_seconds = time.perf_counter() - train_start
    write_outputs(model, outputs, binary=bool(args.binary))
    words = data.n_tokens * model.epochs
    print(f"{PROG}: {data.n_docs:,} documents, {len(model.vocab):,} words in vocabulary, "
          f"{words:,} words trained in {train_seconds:.1f} s ({words / max(train_seconds, 1e-9):,.0f} "
          f"words/s); total {time.perf_counter() - started:.1f} s; wrote "
          + ", ".join(str(p) for p in outputs.values()))
    return 0


# -- arguments -----------------------------------------------------------------

def corpus_path(args) -> str:
    if args.corpus and args.train and args.corpus != args.train:
        raise UsageError(f"two corpora given ({args.corpus} and -train {args.train})")
    path = args.corpus or args.train
    if not path:
        raise UsageError("no corpus given: jose-train CORPUS (see --help)")
    return path


def output_paths(args, corpus) -> dict:
    """What to write where. With no output option, <corpus stem>.words.txt and
    .docs.txt in the current directory, so `jose-train corpus.txt` does a job."""
    outputs = {name: getattr(args, f"{name}_output") for name in ("word", "context", "doc", "model")}
    outputs = {k: Path(v) for k, v in outputs.items() if v}
    if not outputs:
        stem = Path(corpus).name.split(".")[0] or "jose"
        ext = ".bin" if args.binary else ".txt"
        outputs = {"word": Path(f"{stem}.words{ext}"), "doc": Path(f"{stem}.docs{ext}")}
    if len(set(outputs.values())) < len(outputs):
        raise UsageError("two outputs name the same file")
    return outputs


def check_writable(outputs: dict, *extra) -> None:
    """Fail before training, not after it, if an output cannot be written."""
    paths = list(outputs.items()) + [("vocabulary", Path(p)) for p in extra if p]
    for kind, path in paths:
        parent = path.parent if str(path.parent) else Path(".")
        if kind != "model" and path.is_dir():
            raise UsageError(f"cannot write {kind} output {path}: it is a directory")
        if kind == "model" and path.exists() and not (path / "model.json").is_file():
            raise UsageError(f"will not replace {path} with the model: it exists and is "
                             f"not a saved jose model")
        if not parent.is_dir():
            raise UsageError(f"cannot write {kind} output {path}: no directory {parent}")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise UsageError(f"cannot write {kind} output {path}: {parent} is not writable")
        if path.exists() and not os.access(path, os.W_OK):
            raise UsageError(f"cannot write {kind} output {path}: permission denied")


class scratch_dir:
    """--cache DIR, or a temporary directory removed at the end."""

    def __init__(self, cache):
        self.cache, self.tmp = cache, None

    def __enter__(self) -> str:
        if self.cache:
            os.makedirs(self.cache, exist_ok=True)
            return self.cache
        self.tmp = tempfile.TemporaryDirectory(prefix="jose-train-")
        return self.tmp.name

    def __exit__(self, *exc):
        if self.tmp is not None:
            self.tmp.cleanup()


# -- the passes over the corpus ----------------------------------------------------

def _byte_bar(path, desc, quiet):
    """A tqdm bar over the file's (compressed) bytes and its update callable."""
    if quiet:
        return None, lambda: None
    from tqdm import tqdm
    bar = tqdm(total=os.path.getsize(path), unit="B", unit_scale=True, desc=desc,
               leave=False, file=sys.stderr)

    def update(done):
        bar.update(done - bar.n)
    return update, bar.close


def read_vocabulary(args, corpus, quiet, log):
    from .textcorpus import count_corpus
    from .vocab import Vocabulary

    if args.read_vocab:
        words, counts = read_vocab_file(args.read_vocab)
        return Vocabulary.from_counts(words, counts, args.min_count)
    update, close = _byte_bar(corpus, "counting", quiet)
    try:
        counts = count_corpus(corpus, tokenize=args.tokenize, progress=update)
    finally:
        close()
    if counts.n_invalid_utf8:
        print(f"{PROG}: warning: {corpus}: {counts.n_invalid_utf8:,} tokens had invalid "
              f"UTF-8 bytes, replaced by U+FFFD", file=sys.stderr)
    vocab = Vocabulary.from_counts(counts.words, counts.counts, args.min_count)
    if len(vocab) == 0:
        raise UsageError(f"{corpus}: the vocabulary is empty: none of its {len(counts.words):,} "
                         f"distinct words occurs --min-count={args.min_count} times")
    log(f"counted {counts.n_tokens:,} tokens, {len(counts.words):,} distinct words, "
        f"{counts.n_docs:,} documents")
    return vocab


def encode(corpus, vocab, scratch, tokenize, quiet):
    from .textcorpus import encode_corpus
    update, close = _byte_bar(corpus, "encoding", quiet)
    try:
        return encode_corpus(corpus, vocab.key_to_index, scratch, tokenize=tokenize,
                             progress=update)
    finally:
        close()


def progress_bar(model, data):
    from tqdm import tqdm
    bar = tqdm(total=data.n_tokens * model.epochs, unit="word", unit_scale=True,
               desc="training", file=sys.stderr, smoothing=0.1)

    def report(p):
        bar.set_postfix_str(f"epoch {p.epoch + 1}/{p.epochs} alpha {p.alpha:.5f} "
                            f"loss {p.word_loss + p.doc_loss:.4f}", refresh=False)
        bar.update(p.words_done - bar.n)
        if p.words_done >= p.words_total:
            bar.close()
    return report


# -- vocabulary and embedding files ----------------------------------------------

def read_vocab_file(path):
    """'word count' per line, as jose.c and word2vec write it."""
    import numpy as np
    words, counts = [], []
    try:
        # bytes.split() splits on ASCII whitespace only, like the corpus reader
        with open(path, "rb") as f:
            for lineno, line in enumerate(f, 1):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) != 2 or not parts[1].isdigit():
                    raise UsageError(f"{path}, line {lineno}: expected 'word count', "
                                     f"got {line.strip()[:60]!r}")
                words.append(parts[0].decode("utf-8", errors="replace"))
                counts.append(int(parts[1]))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such vocabulary file") from None
    if len(set(words)) != len(words):
        raise UsageError(f"{path}: a word is listed twice")
    if not words:
        raise UsageError(f"{path}: the vocabulary file is empty")
    return words, np.array(counts, dtype=np.int64)


def write_vocab(path, vocab):
    from .atomic import atomic_file
    with atomic_file(path, "w", encoding="utf-8") as f:
        for word, count in zip(vocab.words, vocab.counts.tolist()):
            f.write(f"{word} {count}\n")


def embedding_paths(path):
    """(word file, context file or None): a word2vec file, or jose.c's prefix
    convention PATH_w.txt / PATH_v.txt."""
    if os.path.isfile(path):
        return path, None
    word_path, context_path = f"{path}_w.txt", f"{path}_v.txt"
    if not os.path.isfile(word_path):
        raise UsageError(f"--load-emb {path}: neither {path} nor {word_path} exists")
    return word_path, context_path if os.path.isfile(context_path) else None


#: The model's parameter names as this command's options, for error messages.
OPTION_NAMES = {"vector_size": "--size", "workers": "--threads", "min_count": "--min-count",
                "update_rule": "--update-rule"}


def option_names(message: str) -> str:
    """Name options the way the user typed them in a model's error message."""
    for param in ("vector_size", "window", "negative", "margin", "alpha", "sample",
                  "min_count", "epochs", "workers", "seed", "update_rule"):
        if message.startswith(param + " "):
            return OPTION_NAMES.get(param, "--" + param) + message[len(param):]
    return message


def write_outputs(model, outputs: dict, binary: bool):
    from .keyedvectors import KeyedVectors
    tables = {"word": model.wv, "context": model.cv,
              "doc": KeyedVectors(list(range(len(model.dv))), model.dv.vectors)}
    for kind, path in outputs.items():
        if kind == "model":
            model.save(path)
        else:
            tables[kind].save_word2vec_format(path, binary=binary)


if __name__ == "__main__":
    sys.exit(main())
