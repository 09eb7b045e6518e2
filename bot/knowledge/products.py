"""Questions about one product in the catalog: "is the X in stock?", "how much is the X?", "what
sizes does the X come in?", "tell me about the X" — answered from the catalog alone.

:class:`ProductQuestions` is built once at start-up (and again after an ingest) from the
:class:`CatalogIndex`; it precomputes every product's name tokens, so :meth:`ProductQuestions.match`
on the per-turn path is a few hundred short string comparisons (RapidFuzz, C++), well under a
millisecond for this catalog.

Names are matched word by word, so partial names ("the halo lamp"), plural or inflected words
("trail runner shoes") and typos ("yirgachefe") still find the product; words written together
("powerbank") match names that split them ("Power Bank"). Words that are in no product name, SKU
or tag are left out of the comparison ("do you guys still have the …"). When the words fit no
name well, the MiniLM vector of the question (already computed by the understand stage) against
the catalog vectors can still find the product a customer describes in other words ("a cast iron
pan" → the skillet).

Prices, stock and sizes come from the catalog row only; nothing is guessed.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import numpy as np
import Stemmer
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from bot.knowledge.catalog import Product
from bot.knowledge.catalog_index import CatalogIndex

__all__ = [
    "Asked",
    "ProductAnswer",
    "ProductAnswerKind",
    "ProductFacts",
    "ProductMatch",
    "ProductQuestion",
    "ProductQuestions",
]


class Asked(StrEnum):
    PRICE = "price"
    STOCK = "stock"
    SIZES = "sizes"
    DETAILS = "details"
    FEATURE = "feature"  # a yes/no question about one quality ("is the headlamp waterproof?")
    GENERIC = "generic"  # a product named with no particular question ("Halo LED Desk Lamp?")


class ProductAnswerKind(StrEnum):
    ANSWERED = "answered"
    OUT_OF_STOCK = "out_of_stock"  # answered, and the product cannot be bought now
    AMBIGUOUS = "ambiguous"  # several products fit the name: ask which one
    NOT_FOUND = "not_found"  # no product fits the name: say so, with the closest names


# What was asked, in the order checked: the first that fits wins ("how much is it and is it in
# stock?" is a price question whose answer also states stock).
_ASKED = (
    (Asked.PRICE, re.compile(r"\bhow much\b|\bprice[sd]?\b|\bpricing\b|\bcosts?\b|\bcharge for\b|\$\s*\?", re.I)),
    (Asked.STOCK, re.compile(
        r"\bin[- ]stock\b|\bout of stock\b|\bback in\b|\brestock|\bsold out\b|\bavailab|\bleft\b"
        r"|\bdo you (?:guys )?(?:still )?(?:have|carry|sell|stock)\b|\bcan i (?:still )?(?:buy|get|order)\b"
        # "can I get the difference / a refund / my money back" asks for money, not for the product.
        r"(?!\s+(?:the difference|a refund|my refund|refunded|my money|money|back|the money|a price|a discount|"
        r"a replacement|store credit|a receipt|an? invoice|a price adjustment))", re.I)),
    (Asked.SIZES, re.compile(r"\bsizes?\b|\bsizing\b|\bcome[s]? in\b|\bdimensions?\b|\bhow (?:big|large|small|wide|tall)\b"
                             r"|\bmeasure(?:ments)?\b|\bwhat fits?\b", re.I)),
    (Asked.DETAILS, re.compile(r"\btell me (?:more )?about\b|\bdetails?\b|\bspecs?\b|\bspecifications?\b|\bdescribe\b"
                               r"|\bmore info|\binformation (?:on|about)\b|\bwhat(?: is|'s| are) (?:the|a|an|your)\b"
                               r"|\bwhat does (?:the|a|an|your)\b.*\bdo\b|\bfeatures?\b|\bhow (?:heavy|much does .* weigh)\b", re.I)),
    (Asked.FEATURE, re.compile(r"^\W*(?:(?:so|and|hey|hi|ok|also|quick question)\W+)*(?:is|are|does|do|can|will|would|could)\s+"
                               r"(?:it|they|the|this|that|these|those|your|my)\b|\bhow long (?:does|do|will|would)\b", re.I)),
)
# Phrases that ask for suggestions rather than about a named product: left to the recommender.
_SUGGESTION = re.compile(r"\brecommend|\bsuggest|\bideas?\b|\bgift|\bpresent for\b|\banything\b|\bsomething\b"
                         r"|\bwhat (?:should|would|could) i (?:buy|get)\b|\bfor my\b|\bbest\b", re.I)
# The ways customers name a product they ask about; "x" is their words for it. Only these make a
# "not in our catalog" answer: "how long does shipping take?" asks about no product at all.
_DET = r"(?:the|a|an|your|any|some|those|these|that|this)\s+"
_FRAMES = tuple(re.compile(p, re.I) for p in (
    rf"\b(?:is|are)\s+(?:{_DET})?(?P<x>[\w' -]+?)\s+(?:still\s+)?(?:in[- ]stock|available|sold out|out of stock|back in stock)\b",
    rf"\bhow much (?:is|are|does|do|for)\s+(?:{_DET})?(?P<x>[\w' -]+?)(?:\s+cost)?\s*[?.!]*$",
    rf"\bprice (?:of|for)\s+(?:{_DET})?(?P<x>[\w' -]+?)\s*[?.!]*$",
    rf"\bwhat sizes? (?:does|do|is|are)\s+(?:{_DET})?(?P<x>[\w' -]+?)\s+(?:come in|available in|in)\b",
    rf"\btell me (?:more )?about\s+(?:{_DET})?(?P<x>[\w' -]+?)\s*[?.!]*$",
    rf"\bdo you (?:guys )?(?:still )?(?:have|sell|carry|stock)\s+(?:{_DET})?(?P<x>[\w' -]+?)(?:\s+in stock)?\s*[?.!]*$",
))
_MENTION_WORDS = 5
_ORDINALS = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "last": -1}
# Pronouns that point at the product under discussion ("how much is it?").
_REFERS_BACK = re.compile(r"\b(?:it|its|it's|that|this|they|them|those|these|one)\b", re.I)

_STOPWORDS = frozenset("""
a about after again all also am an and any anything are as at available availability back be been being both but buy
by can cheap come comes cost costs currently did do does doing get got guys have has hi hey hello how i i'm if in info
information into is it it's its just know left like long me more much my need now of on one or order out please pls
price priced prices pricing right sell selling sells size sizes so sold some stock still tell than thanks that the
their them then there these they this those to too u us want was we what what's when where which who why will with
would you your yours details detail specs spec describe features feature restock restocked dimensions big large small
wide tall measure measurements carry fits fit available whats hows ya
""".split())

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SKU = re.compile(r"\b[A-Z]{2,4}-[A-Z0-9]{2,5}-\d{2,3}\b", re.I)
# Size facts in a description: "36 x 27 inches", "for dogs up to 50 lb", a sentence naming sizes.
_DIMENSIONS = re.compile(r"\b\d+(?:\.\d+)?(?:\s*x\s*\d+(?:\.\d+)?)+\s*(?:inches|inch|in|cm|mm|ft|feet)\b", re.I)
_UP_TO = re.compile(r"\bfor \w+ up to \d+(?:\.\d+)?\s*(?:lb|lbs|kg)\b", re.I)
_SIZE_SENTENCE = re.compile(r"[^.]*\b(?:sizes?|one size)\b[^.]*\.", re.I)

_TAG_CREDIT = 0.6  # a word found only among the tags counts this much
_MATCH_FLOOR = 0.75  # a product is meant at this confidence or above
_AMBIGUOUS_WITHIN = 0.08  # other products this close to the best make the name ambiguous
# MiniLM cosine of the whole question to a product's vector to take it as meant, and its lead over
# the next product: "do you have a frying pan?" → skillet 0.50 (next 0.35), "yoga mat?" → the
# standing mat 0.49 (not taken: it is not a yoga mat).
_SEMANTIC_FLOOR = 0.5
_SEMANTIC_MARGIN = 0.1
_CLOSEST_FLOOR = 0.35  # name share or cosine for a "the closest I have" suggestion
_NAMED_SHARE = 0.6  # without a question word, the product words must be this share of the message
_LOW_STOCK = 5
_KNOWN_CACHE_SIZE = 20_000  # words customers used, with whether they are catalog words

VectorSource = tuple[Sequence[str], np.ndarray] | Callable[[], tuple[Sequence[str], np.ndarray]]


_SNOWBALL = Stemmer.Stemmer("english")


@lru_cache(maxsize=4096)
def _stem(word: str) -> str:
    """Snowball's English stem, with "runner" folded onto "run" as Snowball does not:
    runner/running/runs → run, puppies → puppi, cooking → cook, shoes → shoe."""
    stemmed = _SNOWBALL.stemWord(word)
    # Only the doubled-consonant agent nouns: "runner" → run, but "blender" stays (it is no "blend").
    if stemmed.endswith("er") and len(stemmed) >= 6 and stemmed[-3] == stemmed[-4] and stemmed[-3] not in "aeiousl":
        stemmed = stemmed[:-3]
    return stemmed


def _tokens(text: str) -> list[str]:
    """Lower-case words and numbers of ``text``; hyphenated words split ("cast-iron" → cast, iron)."""
    return _TOKEN.findall(text.lower().replace("’", "'").replace("-", " "))


# Shared with the recommender's reading of a shopper's need.
stem_word = _stem
text_words = _tokens


@dataclass(frozen=True, slots=True)
class ProductFacts:
    """What the catalog says about one product; the only source of prices and stock in replies."""

    sku: str
    name: str
    category: str
    price: float
    stock: int
    in_stock: bool
    sizes: tuple[str, ...]  # the variants on sale and size facts from the description; () when none listed
    description: str


@dataclass(frozen=True, slots=True)
class ProductMatch:
    sku: str
    name: str
    confidence: float  # 0..1
    how: str  # "sku", "name" or "meaning"


@dataclass(frozen=True, slots=True)
class ProductQuestion:
    """One question about products: what was asked, the words that name the product, and the
    products those words fit, best first (empty when none fits well)."""

    text: str
    asked: Asked
    mention: str  # the customer's words for the product ("halo lamp"); "" when they said "it"
    matches: tuple[ProductMatch, ...]
    closest: tuple[ProductMatch, ...]  # near misses, for "did you mean …?" when nothing fits
    confidence: float  # of the best match, 0 when none

    @property
    def found(self) -> bool:
        return bool(self.matches)

    @property
    def ambiguous(self) -> bool:
        return len(self.matches) > 1

    @property
    def sku(self) -> str | None:
        """The one product meant, or None when none or several fit."""
        return self.matches[0].sku if len(self.matches) == 1 else None


@dataclass(frozen=True, slots=True)
class ProductAnswer:
    kind: ProductAnswerKind
    asked: Asked
    text: str  # what a good agent would say, facts from the catalog only
    products: tuple[ProductFacts, ...]  # what the answer is about: one product or the variants of one
    alternative: ProductFacts | None  # in stock, same category, when the product asked about is not
    candidates: tuple[ProductFacts, ...]  # AMBIGUOUS: the ones to choose from; NOT_FOUND: the closest
    # FEATURE: the catalog does not say (the reply says so, and what it does say, rather than guess).
    unsure: bool = False

    @property
    def sku(self) -> str | None:
        """The product now under discussion (for dialogue state), or None."""
        return self.products[0].sku if len(self.products) == 1 else None


@dataclass(frozen=True, slots=True)
class _Entry:
    product: Product
    name_words: tuple[str, ...]  # stemmed; with joined neighbours ("powerbank")
    tag_words: tuple[str, ...]


class ProductQuestions:
    """Built once from the catalog (and its vectors) at start-up; match and answer per turn."""

    def __init__(self, catalog: CatalogIndex, vectors: VectorSource | None = None) -> None:
        """``vectors``: (SKUs, one unit MiniLM vector per SKU in that order), or a function returning
        them, e.g. ``lambda: (advisor.vectors.skus, advisor.vectors.matrix)``, which keeps up with each
        refit; without vectors only names are matched. The name index is rebuilt (about a
        millisecond) the first time it is used after the catalog was reloaded, never otherwise."""
        self._catalog = catalog
        self._vector_source = vectors
        self._built_from: object = None
        self._vectors_from: object = None
        self._refresh()

    def _refresh(self) -> None:
        if self._catalog.products is not self._built_from:
            self._build(self._catalog.products)
        skus, matrix = self._vector_source() if callable(self._vector_source) else (
            self._vector_source or ([], np.zeros((0, 0), dtype=np.float32)))
        if skus is not self._vectors_from:
            self._vectors_from = skus
            keep = [i for i, s in enumerate(skus) if s in self._products]
            self._vector_skus = [skus[i] for i in keep]
            self._matrix = matrix[keep] if keep else np.zeros((0, 0), dtype=np.float32)

    def _build(self, products: Mapping[str, Product]) -> None:
        self._built_from = products
        self._products = dict(products)
        self._entries = [self._entry(p) for p in self._products.values()]
        vocabulary = Counter(w for e in self._entries for w in set(e.name_words) | set(e.tag_words))
        n = max(len(self._entries), 1)
        self._idf = {w: math.log(1 + n / df) for w, df in vocabulary.items()}
        self._vocabulary = list(vocabulary)
        self._typical_weight = float(np.mean(list(self._idf.values()))) if self._idf else 1.0
        self._known_cache: dict[str, bool] = {}
        self._families: dict[str, list[Product]] = {}
        for product in self._products.values():
            self._families.setdefault(product.base_name.lower(), []).append(product)
        self._vectors_from = None  # re-slice the vectors for the new SKUs

    def name_words(self) -> frozenset[str]:
        """Every word of every product name ("halo", "ridgeback", "trailcharge"), e.g. for
        ``LanguageDetector(known_words=...)``: a product name says nothing about the language."""
        return frozenset(w for p in self._products.values() for w in _tokens(p.name) if w.isalpha())

    @staticmethod
    def _entry(product: Product) -> _Entry:
        raw = _tokens(product.name)
        words = [_stem(w) for w in raw]
        joined = [_stem(a + b) for a, b in zip(raw, raw[1:], strict=False)]
        tags = [_stem(w) for tag in product.tags for w in _tokens(tag)] + [_stem("".join(_tokens(t))) for t in product.tags]
        return _Entry(product, tuple(dict.fromkeys(words + joined)), tuple(dict.fromkeys(tags)))

    # --- matching -----------------------------------------------------------------------------

    def match(self, text: str, embedding: np.ndarray | None = None, current_sku: str | None = None) -> ProductQuestion | None:
        """The product question in ``text``, or None when it is not one.

        It is one when it asks about price, stock, sizes or details (then the products fitting the
        name are in ``matches``, possibly none), or when it names a product and little else. A
        request for suggestions ("any gift ideas…", "something for my puppy") is not: that is the
        recommender's. ``current_sku`` is the product under discussion, used when the question
        names none ("how much is it?"). ``embedding`` is the MiniLM vector of ``text``.
        """
        self._refresh()
        asked = next((kind for kind, pattern in _ASKED if pattern.search(text)), None)
        words = [w for w in _tokens(text) if w not in _STOPWORDS]
        if _SUGGESTION.search(text) and not _SKU.search(text):
            return None
        sku = _SKU.search(text)
        if sku and sku.group(0).upper() in self._products:
            product = self._products[sku.group(0).upper()]
            found = (ProductMatch(product.sku, product.name, 1.0, "sku"),)
            return ProductQuestion(text, asked or Asked.GENERIC, sku.group(0), found, (), 1.0)
        known = [w for w in words if self._known(w)]
        named = _framed(text)
        if not known and current_sku in self._products and asked is not None and _REFERS_BACK.search(text):
            product = self._products[current_sku]  # type: ignore[index]
            return ProductQuestion(text, asked, "", (ProductMatch(product.sku, product.name, 1.0, "context"),), (), 1.0)
        # The customer's own words for the product count in full when we can see them ("yoga mat"
        # is not the standing mat); elsewhere only the words that are product words.
        scores = self._score(named.split() if named and known else known) if known else {}
        semantic = self._semantic(embedding) if embedding is not None else {}
        matches = self._best(scores, semantic)
        if asked is Asked.FEATURE and len(known) > 1 and (not matches or matches[0].how != "name"):
            # "is the headlamp waterproof?": the quality is a catalog word too (a waterproof speaker);
            # the product is named by the words before it.
            for cut in range(len(known) - 1, 0, -1):
                by_name = self._best(self._score(known[:cut]), {})
                if by_name and by_name[0].how == "name":
                    matches, known = by_name, known[:cut]
                    break
        if asked is None:
            # Without a question word, a message is about a product only if it is mostly its name.
            if not matches or len(known) < _NAMED_SHARE * max(len(words), 1) or matches[0].how != "name":
                return None
            asked = Asked.GENERIC
        if not matches and not known and named is None:
            return None  # a question word but no product in sight: a policy question, not ours
        mention = named or " ".join(known)
        closest = () if matches else self._closest(scores, semantic)
        return ProductQuestion(text, asked, mention, matches, closest, matches[0].confidence if matches else 0.0)

    def choose(self, text: str, options: Sequence[str], asked: Asked) -> ProductQuestion | None:
        """The follow-up to "which one do you mean?": ``options`` are the SKUs offered (in the order
        offered, e.g. ``[c.sku for c in answer.candidates]``), ``asked`` what was asked then. "the
        desk one", "the second", "floor lamp" → that product; None when the reply picks none of them."""
        self._refresh()
        offered = [sku for sku in options if sku in self._products]
        lowered = text.lower()
        for word, index in _ORDINALS.items():
            if re.search(rf"\b{word}\b", lowered) and -len(offered) <= index < len(offered):
                product = self._products[offered[index]]
                return ProductQuestion(text, asked, word, (ProductMatch(product.sku, product.name, 1.0, "choice"),), (), 1.0)
        known = [w for w in _tokens(text) if w not in _STOPWORDS and self._known(w)]
        scores = {sku: v for sku, v in self._score(known).items() if sku in offered} if known else {}
        ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
        if not ranked or (len(ranked) > 1 and ranked[1][1] >= ranked[0][1] - _AMBIGUOUS_WITHIN):
            return None
        product = self._products[ranked[0][0]]
        return ProductQuestion(text, asked, " ".join(known), (ProductMatch(product.sku, product.name, round(ranked[0][1], 3), "choice"),),
                               (), round(ranked[0][1], 3))

    def _known(self, word: str) -> bool:
        """Whether ``word`` is (close to) a word of some product name, SKU or tag."""
        if word not in self._known_cache:
            if len(self._known_cache) >= _KNOWN_CACHE_SIZE:
                self._known_cache.clear()
            stem = _stem(word)
            self._known_cache[word] = stem in self._idf or _nearest(stem, self._vocabulary) is not None
        return self._known_cache[word]

    def _score(self, words: list[str]) -> dict[str, float]:
        """Per SKU: the share of the customer's product words (weighted by rarity) found in its name."""
        stems = [_stem(w) for w in words]
        weights = [self._weight(s) for s in stems]
        total = sum(weights) or 1.0
        scores: dict[str, float] = {}
        for entry in self._entries:
            credit = 0.0
            for stem, weight in zip(stems, weights, strict=True):
                # A word that is itself a catalog word is no typo of another ("night" is not "light").
                exact = stem in self._idf
                in_name = _similarity(stem, entry.name_words, exact)
                in_tags = _similarity(stem, entry.tag_words, exact) * _TAG_CREDIT
                credit += weight * max(in_name, in_tags)
            if credit:
                scores[entry.product.sku] = credit / total
        return scores

    def _weight(self, stem: str) -> float:
        if stem in self._idf:
            return self._idf[stem]
        best = _nearest(stem, self._vocabulary)
        return self._idf[best] if best else self._typical_weight

    def _semantic(self, embedding: np.ndarray) -> dict[str, float]:
        if not self._vector_skus:
            return {}
        return dict(zip(self._vector_skus, (self._matrix @ embedding).tolist(), strict=True))

    def _best(self, scores: Mapping[str, float], semantic: Mapping[str, float]) -> tuple[ProductMatch, ...]:
        ranked = sorted(scores.items(), key=lambda kv: (kv[1], semantic.get(kv[0], 0.0)), reverse=True)
        if ranked and ranked[0][1] >= _MATCH_FLOOR:
            top = ranked[0][1]
            near = [(s, v) for s, v in ranked if v >= max(_MATCH_FLOOR, top - _AMBIGUOUS_WITHIN)]
            return tuple(ProductMatch(s, self._products[s].name, round(v, 3), "name") for s, v in near)
        by_meaning = sorted(semantic.items(), key=lambda kv: kv[1], reverse=True)
        if by_meaning and by_meaning[0][1] >= _SEMANTIC_FLOOR and (
            len(by_meaning) == 1 or by_meaning[0][1] - by_meaning[1][1] >= _SEMANTIC_MARGIN
        ):
            sku, value = by_meaning[0]
            return (ProductMatch(sku, self._products[sku].name, round(value, 3), "meaning"),)
        return ()

    def _closest(self, scores: Mapping[str, float], semantic: Mapping[str, float], limit: int = 3) -> tuple[ProductMatch, ...]:
        blended = {sku: max(scores.get(sku, 0.0), semantic.get(sku, 0.0)) for sku in set(scores) | set(semantic)}
        ranked = sorted(blended.items(), key=lambda kv: kv[1], reverse=True)
        return tuple(ProductMatch(s, self._products[s].name, round(v, 3), "name" if s in scores else "meaning")
                     for s, v in ranked[:limit] if v >= _CLOSEST_FLOOR)

    # --- answering ----------------------------------------------------------------------------

    def facts(self, sku: str) -> ProductFacts:
        product = self._products[sku]
        return ProductFacts(product.sku, product.name, product.category, product.price, product.stock,
                            product.in_stock, self._sizes(product), product.description)

    def _sizes(self, product: Product) -> tuple[str, ...]:
        family = self._families.get(product.base_name.lower(), [product])
        sizes = [p.variant for p in family if p.variant and len(family) > 1]
        described = [_clean(m.group(0)) for m in _SIZE_SENTENCE.finditer(product.description)]
        described += [m.group(0) for m in _DIMENSIONS.finditer(product.description)]
        described += [m.group(0) for m in _UP_TO.finditer(product.description)]
        if not sizes and product.variant and not described:
            sizes = [product.variant]
        return tuple(dict.fromkeys(sizes + described))

    def answer(self, question: ProductQuestion) -> ProductAnswer:
        """The reply to ``question`` with the catalog facts it rests on (as the catalog is now)."""
        self._refresh()
        if any(m.sku not in self._products for m in question.matches):
            question = dataclasses.replace(question, matches=(), confidence=0.0)  # reloaded without it
        if not question.matches:
            closest = tuple(self.facts(m.sku) for m in question.closest)
            return ProductAnswer(ProductAnswerKind.NOT_FOUND, question.asked, _not_found(question.mention, closest),
                                 (), None, closest)
        chosen = [self._products[m.sku] for m in question.matches]
        families = {p.base_name.lower() for p in chosen}
        if len(families) > 1:
            options = self._options(chosen)
            return ProductAnswer(ProductAnswerKind.AMBIGUOUS, question.asked, _which(options), (), None,
                                 tuple(self.facts(p.sku) for p in options))
        # One product, or variants of one ("Men's" and "Women's"): answer for all of them.
        family = self._families[families.pop()] if question.asked is Asked.SIZES else chosen
        products = tuple(self.facts(p.sku) for p in sorted(family, key=lambda p: (p.price, p.name)))
        alternative = None
        if not any(p.in_stock for p in products):
            alternative = self._alternative(family[0])
        kind = ProductAnswerKind.ANSWERED if any(p.in_stock for p in products) else ProductAnswerKind.OUT_OF_STOCK
        if question.matches[0].how == "meaning":
            text = _closest_by_meaning(question.mention, products[0], alternative)
        elif question.asked is Asked.FEATURE and len(products) == 1:
            said = _described(question.text, products[0])
            return ProductAnswer(kind, question.asked, _feature(products[0], said), products, alternative, (),
                                 unsure=not said)
        else:
            text = _compose(question.asked, products, alternative)
        return ProductAnswer(kind, question.asked, text, products, alternative, ())

    def _options(self, chosen: list[Product], limit: int = 3) -> list[Product]:
        """One product per family, in match order, at most ``limit``."""
        seen: set[str] = set()
        options = []
        for product in chosen:
            if product.base_name.lower() not in seen:
                seen.add(product.base_name.lower())
                options.append(product)
        return options[:limit]

    def _alternative(self, product: Product) -> ProductFacts | None:
        """The in-stock product of the same category most like ``product`` (by catalog vector, else tags)."""
        pool = [p for p in self._products.values() if p.category == product.category and p.in_stock
                and p.sku != product.sku and not p.consumable]
        if not pool:
            return None
        if product.sku in self._vector_skus:
            index = {s: i for i, s in enumerate(self._vector_skus)}
            own = self._matrix[index[product.sku]]
            def likeness(p: Product) -> float:
                return float(self._matrix[index[p.sku]] @ own) if p.sku in index else -1.0
        else:
            def likeness(p: Product) -> float:
                return len(set(p.tags) & set(product.tags)) - abs(p.price - product.price) / max(product.price, 1.0)
        return self.facts(max(pool, key=likeness).sku)


_QUESTION_WORDS = frozenset("is are does do can will would could how long work works last lasts go".split())
_SENTENCE = re.compile(r"[^.!?]+[.!?]?")


def _described(text: str, product: ProductFacts) -> list[str]:
    """The description's sentences that speak of what ``text`` asks about a product: a word of the question
    that is neither a product word nor a question word, matched on its first five letters
    ("waterproof" / "water-resistant", "battery" / "batteries")."""
    named = {w[:5] for w in _tokens(product.name)}
    asked = {w[:5] for w in _tokens(text) if w not in _STOPWORDS and w not in _QUESTION_WORDS and len(w) > 2} - named
    if not asked:
        return [_IN_THE_NAME]  # "is the dog food grain free?": the Trailmix Grain-Free Dog Food
    return [sentence.strip() for sentence in _SENTENCE.findall(product.description)
            if asked & {w[:5] for w in _tokens(sentence)}]


_IN_THE_NAME = ""  # _described's answer when the product's own name says it


def _feature(product: ProductFacts, said: list[str]) -> str:
    if said == [_IN_THE_NAME]:
        return f"Yes: it's the {product.name}. {product.description}".strip()
    if said:
        return f"Here's what our listing for the {product.name} says: {' '.join(said)}"
    about = product.description or "no description beyond its name"
    return (f"Our listing for the {product.name} doesn't cover that, and I'd rather not guess. "
            f"What it does say: {about}")


def names_its_kind(question: ProductQuestion) -> bool:
    """Whether the customer's words for the product include its kind, the head noun of its name (typos
    allowed): "the headlamp", "merrino sokcs" do; "adjustments" for the Ridgeline Adjustable Footrest
    does not. A question naming a product by its SKU or as "it" counts as naming it."""
    if not question.matches or not question.mention or _SKU.search(question.mention):
        return True
    name = question.matches[0].name.split(",")[0].split()
    kinds = [w for w in name if not any(c.isdigit() for c in w)]
    if not kinds:
        return True
    head = {_stem(w) for w in _tokens(kinds[-1])}
    return any(_similarity(_stem(w), head) > 0 for w in _tokens(question.mention))


def _framed(text: str) -> str | None:
    """The customer's words for the product in a product-shaped question, or None."""
    for frame in _FRAMES:
        found = frame.search(text.strip())
        if found:
            words = [w for w in _tokens(found.group("x")) if w not in _STOPWORDS]
            if words and len(words) <= _MENTION_WORDS and not _REFERS_BACK.fullmatch(" ".join(words)):
                return " ".join(words)
    return None


def _edits_allowed(word: str) -> int:
    """Typos tolerated in a word of this length: none up to three letters, one up to seven ("hallo",
    "sokcs", "merrino"), two from eight ("yirgachefe"). Two in seven letters is too loose: "weather"
    would be "water"."""
    return 0 if len(word) < 4 else 1 if len(word) <= 7 else 2


def _nearest(stem: str, vocabulary: list[str]) -> str | None:
    allowed = _edits_allowed(stem)
    if allowed == 0:
        return None
    near = process.extract(stem, vocabulary, scorer=DamerauLevenshtein.distance, score_cutoff=allowed, limit=5)
    return next((word for word, _, _ in near if not _extends(stem, word)), None)


def _extends(a: str, b: str) -> bool:
    """One word is the other plus two or more letters at the end: another word, not a typo
    ("blender" is not "blend"; "yirgachef" is "yirgacheff" with one letter dropped)."""
    return abs(len(a) - len(b)) >= 2 and (a.startswith(b) or b.startswith(a))


def _similarity(stem: str, words: Iterable[str], exact: bool = False) -> float:
    """1 for the same word, a little less per typo within the allowance (none when ``exact``), else 0."""
    allowed = 0 if exact else _edits_allowed(stem)
    best = 0.0
    for word in words:
        if stem == word:
            return 1.0
        if allowed and len(word) >= 4 and not _extends(stem, word):
            edits = DamerauLevenshtein.distance(stem, word, score_cutoff=allowed)
            if edits <= allowed:
                best = max(best, 1.0 - 0.5 * edits / max(len(stem), len(word)))
    return best


def _clean(sentence: str) -> str:
    """A size sentence from a description as a phrase: "Available in US men's sizes 7 to 14." → "US men's sizes 7 to 14"."""
    phrase = re.sub(r"^(?:available|comes?|offered|sold) in\s+", "", sentence.strip().rstrip("."), flags=re.I)
    return phrase[:1].upper() + phrase[1:] if phrase[:1].islower() and not sentence.strip()[:1].isupper() else phrase


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _stock_phrase(facts: ProductFacts) -> str:
    if not facts.in_stock:
        return "out of stock right now"
    if facts.stock <= _LOW_STOCK:
        return f"in stock, with only {facts.stock} left"
    return "in stock"


def _label(facts: ProductFacts, products: tuple[ProductFacts, ...]) -> str:
    """The variant alone when the sentence already names the family ("Men's"), else the full name."""
    variant = facts.name.rsplit(", ", 1)[1] if ", " in facts.name and len(products) > 1 else ""
    return variant or facts.name


def _stock_summary(products: tuple[ProductFacts, ...]) -> str:
    """ "the Men's and Women's are both in stock", or each variant's stock when they differ."""
    phrases = {_stock_phrase(p) for p in products}
    if len(phrases) == 1:
        both = "both" if len(products) == 2 else "all"
        return f"the {_listing([_label(p, products) for p in products])} are {both} {phrases.pop()}"
    return _listing([f"the {_label(p, products)} is {_stock_phrase(p)}" for p in products])


def _listing(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _compose(asked: Asked, products: tuple[ProductFacts, ...], alternative: ProductFacts | None) -> str:
    first = products[0]
    family = first.name.rsplit(", ", 1)[0] if len(products) > 1 else first.name
    several = len(products) > 1
    if asked is Asked.SIZES:
        sentence = _sizes_sentence(family, products)
    elif asked is Asked.PRICE:
        prices = {p.price for p in products}
        if len(prices) == 1:
            stock = _stock_summary(products) if several else f"it's {_stock_phrase(first)}"
            sentence = f"The {family} is {_money(first.price)}; {stock}."
        else:
            sentence = f"The {family} is " + _listing(
                [f"{_money(p.price)} for the {_label(p, products)} ({_stock_phrase(p)})" for p in products]) + "."
    elif asked is Asked.STOCK:
        if several:
            sentence = f"The {family}: " + _listing(
                [f"the {_label(p, products)} is {_stock_phrase(p)} ({_money(p.price)})" for p in products]) + "."
        elif first.in_stock:
            sentence = f"Yes, the {first.name} is {_stock_phrase(first)} ({_money(first.price)})."
        else:
            sentence = f"The {first.name} is out of stock right now."
    else:
        about = first.description or "no description in our catalog"
        if several:
            sentence = f"The {family} comes in " + _listing(
                [f"{_label(p, products)} ({_money(p.price)}, {_stock_phrase(p)})" for p in products]) + f". {about}"
        else:
            sentence = f"The {first.name} is {_money(first.price)} and {_stock_phrase(first)}. {about}"
    if not any(p.in_stock for p in products):
        if "out of stock" not in sentence:
            sentence += " It's out of stock right now."
        if alternative is not None:
            sentence += f" From the same range, the {alternative.name} ({_money(alternative.price)}) is in stock."
        else:
            sentence += " I don't have a similar item in stock to suggest."
    return sentence.replace("  ", " ").strip()


def _sizes_sentence(family: str, products: tuple[ProductFacts, ...]) -> str:
    if len(products) > 1:
        parts = []
        for p in products:
            extra = [s for s in p.sizes if s != _label(p, products) and s not in {_label(q, products) for q in products}]
            detail = "; ".join([*extra, f"{_money(p.price)}, {_stock_phrase(p)}"])
            parts.append(f"{_label(p, products)} ({detail})")
        return f"The {family} comes in " + _listing(parts) + "."
    first = products[0]
    if first.sizes:
        return f"The {first.name}: " + "; ".join(s.rstrip(".") for s in first.sizes) + "."
    return f"Our catalog lists the {first.name} in one version only, with no other sizes."


def _closest_by_meaning(mention: str, product: ProductFacts, alternative: ProductFacts | None) -> str:
    said = f"to “{mention}” " if mention else ""
    text = f"The closest we have {said}is the {product.name}: {_money(product.price)}, {_stock_phrase(product)}."
    if not product.in_stock and alternative is not None:
        text += f" From the same range, the {alternative.name} ({_money(alternative.price)}) is in stock."
    return text


def _which(options: list[Product]) -> str:
    names = [f"the {p.base_name} ({_money(p.price)})" if p.variant else f"the {p.name} ({_money(p.price)})"
             for p in options]
    return "Which one do you mean: " + (", ".join(names[:-1]) + " or " + names[-1]) + "?"


def _not_found(mention: str, closest: tuple[ProductFacts, ...]) -> str:
    said = f"a product called “{mention}”" if mention else "that product"
    text = f"I couldn't find {said} in our catalog."
    if closest:
        text += " The closest I have: " + _listing([f"the {p.name} ({_money(p.price)})" for p in closest]) + "."
    return text
