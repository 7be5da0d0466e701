"""The evasion layer: matching beyond what normalization folds.

Normalization (`moderation/normalize.py`) undoes width, case, script, numerals, noise and,
through `variants`, look-alike letters and variant characters: those hits are found by the
ordinary automaton and only labelled `variant`. The rest needs views of its own:

- `readings`: each term's toneless pinyin (and initials) and a per-character reading table;
- `sound`: the sound view of a folded text (every ideograph replaced by its reading) with a
  map back to the folded text, matched by an automaton of term readings, for `pinyin`
  (`mi药`, `miyao`, `MiYao`, initials `ytw`) and `homophone` (`谜药`, `迷要`) hits;
- `split`: term keys with one character written as its components (`木仓` for 枪);
- `guard`: jieba's dictionary decides whether a fuzzy hit sits inside an ordinary word;
- `bidi`: bidi overrides that reorder what a reader sees.

`matcher.FuzzyMatcher` ties them together for `moderation.lexicon.Lexicon`.
"""
