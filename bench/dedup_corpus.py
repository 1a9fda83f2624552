"""A seeded generator of Vietnamese documents with controlled near-duplicates.

Documents are built from a vocabulary of real Vietnamese syllables composed into 1-3 syllable
words drawn with Zipf frequencies, plus a few stock phrases that many documents share (as news
text does), so unrelated documents overlap a little, as real ones do.

Each *family* is a base document and variants made by controlled edits:

- ``dup`` variants (ground truth: same cluster as the base): one to three light edits among
  paragraph reordering, a sentence inserted, a sentence deleted, a boilerplate header/footer
  (shared across the corpus) added, ~1% of syllables changed (typos). Measured syllable 5-gram
  Jaccard to the base is mostly 0.8-0.97.
- ``near`` variants (ground truth: a cluster of their own): 35-65% of the sentences replaced
  (Jaccard to the base mostly 0.2-0.6), or, for a third of them, 2-14% replaced, which puts
  them on both sides of 0.8 (Jaccard ~0.65-0.95); truth for those is the exact Jaccard.

Unrelated singletons fill the rest. Truth is by construction (which edits were made), the same
for every tokenization under test; the bench also reports the exact Jaccard distribution.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

SYLLABLES = (
    "anh em chị bà ông cháu con người dân nhà nước làng xã phố thị huyện tỉnh thành quốc gia đình "
    "học sinh viên giáo dục trường lớp thầy cô bạn bè công ty doanh nghiệp kinh tế thị trường giá "
    "cả hàng hóa xuất nhập khẩu nông nghiệp lúa gạo cà phê hồ tiêu cao su thủy sản tôm cá biển đảo "
    "sông núi rừng đồng bằng miền bắc trung nam tây nguyên mưa nắng bão lũ lụt hạn mặn khí hậu môi "
    "trường ô nhiễm rác thải điện nước xăng dầu than đá đường sắt bộ cao tốc cầu cảng sân bay máy "
    "bay tàu xe buýt ngân hàng tiền tệ lãi suất đầu tư vốn thuế phí chính sách pháp luật quy định "
    "nghị quyết quốc hội chính phủ bộ ngành ủy ban nhân dân hội đồng cán bộ công chức viên chức y tế "
    "bệnh viện bác sĩ thuốc dịch bệnh sức khỏe văn hóa lịch sử du lịch lễ hội ẩm thực phở bún bánh "
    "thể thao bóng đá đội tuyển trận đấu cầu thủ huấn luyện khoa công nghệ thông tin số dữ liệu phần "
    "mềm mạng internet điện thoại trí tuệ nhân tạo nghiên cứu phát triển sản xuất chế biến lao động "
    "việc làm thu nhập đời sống an sinh xã hội gia tăng giảm mạnh ổn định bền vững hiệu quả chất "
    "lượng mới cũ lớn nhỏ nhiều ít tốt xấu nhanh chậm sớm muộn hôm nay ngày mai năm tháng tuần qua "
    "đang sẽ đã vừa được bị cho biết nói rằng theo với của và hoặc nhưng vì nên để khi nếu thì là "
    "có không những các một hai ba bốn năm sáu bảy tám chín mười trăm nghìn triệu tỷ đồng phần"
).split()
STOCK_PHRASES = ("theo thông tin từ", "cho biết thêm rằng", "trong thời gian tới", "đại diện cơ quan chức năng",
                 "tính đến thời điểm hiện tại", "trao đổi với phóng viên", "trên địa bàn thành phố")
BOILERPLATE = (
    "Bản quyền thuộc về tòa soạn. Mọi hình thức sao chép phải ghi rõ nguồn.",
    "Đăng ký nhận bản tin hằng ngày để không bỏ lỡ tin tức mới nhất.",
    "Theo dõi chúng tôi trên mạng xã hội. Liên hệ quảng cáo: 0900 000 000.",
    "Tin liên quan: Xem thêm các bài viết cùng chuyên mục.",
)


@dataclass
class Corpus:
    """Documents and ground truth: ``docs`` (id, text); ``cluster`` id -> cluster label;
    ``kind`` id -> base | dup | near | single."""

    docs: list[tuple[str, str]] = field(default_factory=list)
    cluster: dict[str, str] = field(default_factory=dict)
    kind: dict[str, str] = field(default_factory=dict)
    base_of: dict[str, str] = field(default_factory=dict)

    def true_pairs(self) -> set[tuple[str, str]]:
        """Every unordered pair of documents in the same ground-truth cluster."""
        groups: dict[str, list[str]] = {}
        for doc_id, c in self.cluster.items():
            groups.setdefault(c, []).append(doc_id)
        return {(a, b) for members in groups.values() for a in members for b in members if a < b}


class _Writer:
    """Sentences and paragraphs from a Zipf-weighted vocabulary of 1-3 syllable words."""

    def __init__(self, rng: random.Random, vocab_size: int = 4000) -> None:
        self.rng = rng
        vocab = set()
        while len(vocab) < vocab_size:
            vocab.add(" ".join(rng.choices(SYLLABLES, k=rng.choice((1, 2, 2, 2, 3)))))
        self.vocab = sorted(vocab)
        rng.shuffle(self.vocab)
        self.cum_weights = list(itertools.accumulate(1.0 / (r + 10) for r in range(len(self.vocab))))

    def sentence(self) -> str:
        words = self.rng.choices(self.vocab, cum_weights=self.cum_weights, k=self.rng.randint(8, 18))
        if self.rng.random() < 0.3:
            words.insert(self.rng.randrange(len(words)), self.rng.choice(STOCK_PHRASES))
        if self.rng.random() < 0.15:
            words.append(f"{self.rng.randint(1, 2000)}")
        s = " ".join(words)
        return s[0].upper() + s[1:] + self.rng.choice((".", ".", ".", "!", "?"))

    def document(self) -> list[list[str]]:
        return [[self.sentence() for _ in range(self.rng.randint(3, 6))] for _ in range(self.rng.randint(4, 7))]


def render(paragraphs: list[list[str]]) -> str:
    """Paragraphs of sentences -> text."""
    return "\n\n".join(" ".join(p) for p in paragraphs if p)


def _light_edit(doc: list[list[str]], w: _Writer, rng: random.Random) -> list[list[str]]:
    doc = [list(p) for p in doc]
    ops = rng.sample(["reorder", "insert", "delete", "boilerplate", "typos"], k=rng.randint(1, 2))
    for op in ops:
        if op == "reorder":
            rng.shuffle(doc)
        elif op == "insert":
            p = rng.choice(doc)
            p.insert(rng.randrange(len(p) + 1), w.sentence())
        elif op == "delete":
            p = rng.choice([p for p in doc if len(p) > 1] or doc)
            del p[rng.randrange(len(p))]
        elif op == "boilerplate":
            bp = [rng.choice(BOILERPLATE)]
            doc = [bp, *doc] if rng.random() < 0.5 else [*doc, bp]
        else:
            for p in doc:
                for i, s in enumerate(p):
                    toks = s.split()
                    for j in range(len(toks)):
                        if rng.random() < 0.005:
                            toks[j] = rng.choice(SYLLABLES)
                    p[i] = " ".join(toks)
    return doc


def _heavy_edit(doc: list[list[str]], w: _Writer, rng: random.Random, lo: float = 0.35,
                hi: float = 0.65) -> list[list[str]]:
    frac = rng.uniform(lo, hi)
    return [[w.sentence() if rng.random() < frac else s for s in p] for p in doc]


def generate(n_docs: int, seed: int = 0, dup_share: float = 0.5, threshold: float | None = 0.8) -> Corpus:
    """About ``n_docs`` documents: families (base + 1-4 variants, mostly ``dup``) making up
    about ``dup_share`` of the corpus, the rest unrelated singletons.

    With ``threshold``, truth is reconciled with the definition "near-duplicate = Jaccard of
    syllable 5-gram sets >= threshold": a variant whose exact Jaccard to its base falls on the
    other side of the threshold than its edits intended is relabelled (``dup-below`` gets its
    own cluster, ``near-above`` joins the family); the bench reports how many.
    """
    rng = random.Random(seed)
    w = _Writer(random.Random(seed + 1_000_003))
    w.rng = rng
    corpus = Corpus()
    n = 0

    def add(doc_id: str, paragraphs: list[list[str]], cluster: str, kind: str, base: str) -> None:
        corpus.docs.append((doc_id, render(paragraphs)))
        corpus.cluster[doc_id], corpus.kind[doc_id], corpus.base_of[doc_id] = cluster, kind, base

    family = 0
    while n < n_docs * dup_share:
        base = w.document()
        fid = f"f{seed}-{family:07d}"
        add(f"{fid}-0", base, fid, "base", f"{fid}-0")
        n += 1
        for v in range(1, rng.randint(2, 5)):
            vid = f"{fid}-{v}"
            roll = rng.random()
            if roll < 0.6:
                add(vid, _light_edit(base, w, rng), fid, "dup", f"{fid}-0")
            elif roll < 0.8:  # around the threshold: truth decided by the exact Jaccard
                add(vid, _heavy_edit(base, w, rng, 0.02, 0.14), vid, "near", f"{fid}-0")
            else:
                add(vid, _heavy_edit(base, w, rng), vid, "near", f"{fid}-0")
            n += 1
        family += 1
    single = 0
    while n < n_docs:
        sid = f"s{seed}-{single:07d}"
        add(sid, w.document(), sid, "single", sid)
        n += 1
        single += 1
    rng.shuffle(corpus.docs)
    if threshold is not None:
        _reconcile(corpus, threshold)
    return corpus


def _reconcile(corpus: Corpus, threshold: float) -> None:
    from filters.minhash import jaccard, shingle_set

    text = dict(corpus.docs)
    for doc_id, kind in list(corpus.kind.items()):
        if kind not in ("dup", "near"):
            continue
        j = jaccard(shingle_set(text[doc_id]), shingle_set(text[corpus.base_of[doc_id]]))
        if kind == "dup" and j < threshold:
            corpus.kind[doc_id], corpus.cluster[doc_id] = "dup-below", doc_id
        elif kind == "near" and j >= threshold:
            corpus.kind[doc_id], corpus.cluster[doc_id] = "near-above", corpus.cluster[corpus.base_of[doc_id]]
