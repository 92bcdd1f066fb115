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
import time
import warnings
from pathlib import Path

PROG = "jose-train"


class UsageError(Exception):
    """A problem with what the user asked for, reported in one line."""


def _or_auto(cast, what: str):
    """An argparse type: "auto", or a value `cast` accepts (`what` names it)."""
    def parse(text: str):
        if text == "auto":
            return text
        try:
            return cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what} or 'auto', not {text!r}") from None
    return parse


_number_or_auto = _or_auto(float, "a number")        # --margin, --sample
_epochs = _or_auto(int, "a whole number")            # --epochs


def build_parser() -> argparse.ArgumentParser:
    from .model import (DEFAULT_EPOCHS, DEFAULT_MARGIN, DEFAULT_OBJECTIVE, DEFAULT_SAMPLE,
                        DEFAULT_UPDATE_RULE, DEFAULT_WINDOW, OBJECTIVES, UPDATE_RULES)

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
    g.add_argument("--window", "-window", type=int, default=DEFAULT_WINDOW, metavar="N",
                   help=f"largest distance between a word and its context "
                        f"(default {DEFAULT_WINDOW})")
    g.add_argument("--negative", "-negative", type=int, default=2, metavar="N",
                   help="negative words per positive pair (default 2)")
    g.add_argument("--margin", "-margin", type=_number_or_auto, default=DEFAULT_MARGIN, metavar="M",
                   help="hinge margin, in (0, 2], or 'auto': 1.0 when the documents average "
                        "at most 50 in-vocabulary tokens, 0.3 from 200 on, log-linear in "
                        "between (default auto)")
    g.add_argument("--alpha", "-alpha", type=float, default=0.04, metavar="A",
                   help="starting learning rate, decayed linearly to alpha*1e-4 (default 0.04)")
    g.add_argument("--sample", "-sample", type=_number_or_auto, default=DEFAULT_SAMPLE,
                   metavar="S",
                   help="subsampling threshold for frequent words, 0 = off, or 'auto': 1e-4, "
                        "raised to 40/tokens for a corpus under 400 K in-vocabulary tokens "
                        "(default auto)")
    g.add_argument("--min-count", "-min-count", type=int, default=5, metavar="N",
                   help="drop words seen fewer times (default 5)")
    g.add_argument("--max-vocab-size", type=int, default=None, metavar="N",
                   help="hold at most N words while counting: past it, words counted "
                        "t times or fewer are dropped, t rising from 1 (gensim's rule; "
                        "counts become lower bounds) (default: no limit)")
    g.add_argument("--max-final-vocab", type=int, default=None, metavar="N",
                   help="keep at most the N most frequent words (default: no limit)")
    g.add_argument("--epochs", "--iter", "-iter", dest="epochs", type=_epochs,
                   default=DEFAULT_EPOCHS, metavar="N",
                   help="passes over the corpus, or 'auto': 10 for 10 M in-vocabulary tokens "
                        "or more, up to 20 for smaller corpora (default auto)")
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
    g.add_argument("--checkpoint", metavar="DIR",
                   help="save the model and the schedule's position in DIR after every "
                        "epoch (atomically; JoSE.load reads it), for --resume")
    g.add_argument("--checkpoint-every", type=float, default=None, metavar="MINUTES",
                   help="with --checkpoint, also save after the first block of documents "
                        "that ends MINUTES after the last save (default: epochs only)")
    g.add_argument("--resume", action="store_true",
                   help="continue from the checkpoint in --checkpoint DIR, if there is one "
                        "(refused if it is of other data or parameters); with --threads 1 "
                        "the result is identical to an uninterrupted run")
    g.add_argument("--quiet", action="store_true", help="no progress bars")
    g.add_argument("--debug", "-debug", type=int, default=2, metavar="N",
                   help="jose.c's verbosity: 0 is --quiet (default 2)")
    return p


def main(argv=None) -> int:
    return run_command(PROG, run, build_parser().parse_args(argv))


def run_command(prog: str, run, args) -> int:
    """run(args) with this package's exit statuses and one-line errors: 2 for a
    usage error, 1 for bad data or files, 130 on Ctrl-C (jose-train, jose-infer)."""
    try:
        return run(args)
    except UsageError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted; no output was written in place of an old one",
              file=sys.stderr)
        return 130


def run(args) -> int:
    from .model import JoSE

    corpus = corpus_path(args)
    quiet = args.quiet or args.debug <= 0
    outputs = output_paths(args, corpus)
    check_writable(outputs, args.save_vocab)
    embeddings = embedding_paths(args.load_emb) if args.load_emb else None
    if (args.resume or args.checkpoint_every is not None) and not args.checkpoint:
        raise UsageError("--resume and --checkpoint-every need --checkpoint DIR")
    if args.checkpoint_every is not None and not args.checkpoint_every > 0:
        raise UsageError(f"--checkpoint-every must be a positive number of minutes, got "
                         f"{args.checkpoint_every}")
    if args.checkpoint:
        check_writable({"model": Path(args.checkpoint)})
        if Path(args.checkpoint).resolve() in {p.resolve() for p in outputs.values()}:
            raise UsageError(f"--checkpoint {args.checkpoint} is also an output; give the "
                             f"checkpoint a directory of its own")
    # build the model first: bad parameters fail before any reading
    try:
        model = JoSE(vector_size=args.size, window=args.window, negative=args.negative,
                     margin=args.margin, alpha=args.alpha, sample=args.sample,
                     min_count=args.min_count, epochs=args.epochs, workers=args.threads,
                     seed=args.seed, update_rule=args.update_rule, shuffle=args.shuffle,
                     objective=args.objective, max_vocab_size=args.max_vocab_size,
                     max_final_vocab=args.max_final_vocab)
    except ValueError as e:
        raise UsageError(option_names(str(e))) from None
    log = (lambda *a: None) if quiet else (lambda *a: print(*a, file=sys.stderr))
    started = time.perf_counter()
    word_counts = read_vocab_file(args.read_vocab) if args.read_vocab else None
    try:
        build_vocabulary(model, corpus, args, word_counts, quiet)
        data = model.encoded_corpus
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
        model.train(progress=False if quiet else progress_bar(model, data),
                    checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every,
                    resume=args.resume)
        train_seconds = time.perf_counter() - train_start
    finally:
        model.release_corpus()    # the scratch directory goes now (--cache DIR stays)
    write_outputs(model, outputs, binary=bool(args.binary))
    words = data.n_tokens * model.epochs
    print(f"{PROG}: {data.n_docs:,} documents, {len(model.vocab):,} words in vocabulary, "
          f"{words:,} words trained in {train_seconds:.1f} s ({words / max(train_seconds, 1e-9):,.0f} "
          f"words/s); total {time.perf_counter() - started:.1f} s; wrote "
          + ", ".join(str(p) for p in outputs.values()))
    return 0


def build_vocabulary(model, corpus, args, word_counts, quiet):
    """Count and encode the corpus (JoSE.build_vocab_from_file), reporting its
    warnings and errors in this command's words."""
    from .textcorpus import CorpusFileError

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UnicodeWarning)
            model.build_vocab_from_file(corpus, tokenize=args.tokenize, cache_dir=args.cache,
                                        word_counts=word_counts, progress=not quiet)
    except CorpusFileError:
        raise
    except ValueError as e:
        message = (str(e).replace("min_count=", "--min-count=")
                   .replace("word_counts: ", f"{args.read_vocab}: ")
                   .replace("cache_dir ", "--cache "))
        raise UsageError(message) from None
    for warning in caught:
        print(f"{PROG}: warning: {warning.message}", file=sys.stderr)


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


# -- progress ----------------------------------------------------------------------

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

def read_vocab_file(path) -> dict:
    """{word: count} from 'word count' lines, as jose.c and word2vec write them."""
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
    return dict(zip(words, counts))


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
                "update_rule": "--update-rule", "max_vocab_size": "--max-vocab-size",
                "max_final_vocab": "--max-final-vocab"}


def option_names(message: str) -> str:
    """Name options the way the user typed them in a model's error message."""
    for param in ("vector_size", "window", "negative", "margin", "alpha", "sample",
                  "min_count", "epochs", "workers", "seed", "update_rule", "max_vocab_size",
                  "max_final_vocab"):
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
            tables[kind].save_word2vec_format(path, binary=binary, workers=model.workers)


if __name__ == "__main__":
    sys.exit(main())
