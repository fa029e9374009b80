"""Class names from a labels file in Caffe's ``synset_words.txt`` format."""

from importlib import resources
from pathlib import Path

from .errors import FpgagenError

__all__ = ["load_labels", "default_labels", "wordnet_ids"]


def _parse(lines) -> list[str]:
    names = []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        # "n01440764 tench, Tinca tinca": drop the synset id when there is one.
        first, _, rest = line.partition(" ")
        name = rest if first[:1] == "n" and first[1:].isdigit() and rest else line
        names.append(name)
    return names


def load_labels(path) -> list[str]:
    """Class names, one per line (class index = line number - 1); a leading WordNet id
    (``n01440764``) is dropped."""
    path = Path(path)
    try:
        return _parse(path.read_text(encoding="utf-8").splitlines())
    except (OSError, UnicodeDecodeError) as e:
        raise FpgagenError(f"cannot read labels file {str(path)!r}: {e}") from None


def _synset_lines() -> list[str]:
    """The lines of the bundled ImageNet-1k list (``n01440764 tench, Tinca tinca``)."""
    text = resources.files("fpgagen.data").joinpath("imagenet_synset_words.txt")
    return text.read_text(encoding="utf-8").splitlines()


def default_labels(num_classes: int) -> list[str]:
    """The ImageNet-1k names bundled with fpgagen for 1000 classes, else ``class N``."""
    if num_classes == 1000:
        return _parse(_synset_lines())
    return [f"class {i}" for i in range(num_classes)]


def wordnet_ids() -> dict[str, int]:
    """``{WordNet id: class index}`` of the bundled ImageNet-1k list (``n01440764``: 0)."""
    ids = [line.split(" ", 1)[0] for line in _synset_lines() if line.strip()]
    return {wnid: i for i, wnid in enumerate(ids)}
