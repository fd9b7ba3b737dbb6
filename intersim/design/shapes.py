"""Layer shapes iNAS-PMod prices: convolution, dense (as a 1x1-output convolution) and global
average pooling, all stride 1 with no padding (anchor §3, §5)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import ModelError

#: Layer kinds. ``fc`` is priced as a convolution (anchor §5: Dense = conv with R = C = 1).
LAYER_KINDS = ("conv", "fc", "gavgpool")
#: Shape keys in a design file, in the anchor's notation (N x H x W -> M x R x C, Kh x Kw).
SHAPE_KEYS = ("N", "H", "W", "M", "R", "C", "Kh", "Kw")


@dataclass(frozen=True)
class LayerShape:
    """One layer: IFM ``N x H x W`` -> OFM ``M x R x C`` with a ``Kh x Kw`` kernel (stride 1).

    Attributes
    ----------
    kind : str  "conv", "fc" or "gavgpool"
    N, H, W : int [elements] input channels, rows, columns
    M, R, C : int [elements] output channels, rows, columns
    Kh, Kw : int [elements] kernel (for "gavgpool": the pooling window, = H x W)
    """

    kind: str
    N: int
    H: int
    W: int
    M: int
    R: int
    C: int
    Kh: int
    Kw: int

    def __post_init__(self):
        check_shape(self)

    @property
    def is_pool(self) -> bool:
        return self.kind == "gavgpool"

    def as_dict(self) -> dict:
        """The shape keys (without ``kind``) as a plain dict."""
        d = asdict(self)
        d.pop("kind")
        return d


def check_shape(s: LayerShape, where: str = "layer") -> None:
    """Raise :class:`ModelError` naming the first inconsistent field of ``s``."""
    if s.kind not in LAYER_KINDS:
        raise ModelError(f"{where}: kind = {s.kind!r}; valid: {', '.join(LAYER_KINDS)}")
    for key in SHAPE_KEYS:
        v = getattr(s, key)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ModelError(f"{where}: shape {key} = {v!r}; it must be an integer >= 1")
    if s.kind == "gavgpool":
        want = {"M": s.N, "R": 1, "C": 1, "Kh": s.H, "Kw": s.W}
    else:
        want = {"R": s.H - s.Kh + 1, "C": s.W - s.Kw + 1}
    for key, value in want.items():
        if getattr(s, key) != value:
            raise ModelError(f"{where}: shape {key} = {getattr(s, key)!r}; a stride-1 unpadded "
                             f"{s.kind} layer with N,H,W,Kh,Kw = {s.N},{s.H},{s.W},{s.Kh},{s.Kw} "
                             f"needs {key} = {value}")


def conv(n: int, h: int, w: int, m: int, kh: int, kw: int, kind: str = "conv") -> LayerShape:
    """A stride-1, unpadded convolution ``n x h x w`` -> ``m x (h-kh+1) x (w-kw+1)``."""
    return LayerShape(kind, n, h, w, m, h - kh + 1, w - kw + 1, kh, kw)


def dense(n_in: int, n_out: int) -> LayerShape:
    """A dense layer ``n_in -> n_out`` as iNAS prices it: a 1x1 conv on a 1x1 map (anchor §5)."""
    return LayerShape("fc", n_in, 1, 1, n_out, 1, 1, 1, 1)


def gavgpool(n: int, h: int, w: int) -> LayerShape:
    """Global average pooling ``n x h x w`` -> ``n x 1 x 1``."""
    return LayerShape("gavgpool", n, h, w, n, 1, 1, h, w)
